// A process out of file descriptors, on the upstream side: the OpenAI
// client reports its own shortage (never "cannot reach upstream"), does not
// retry, counts it, and recovers once descriptors are free again; the
// upstream loops that could not start then start. Also the headroom check.
// Each test fills this process's descriptor table below a lowered soft
// limit and frees it again (ctest runs every test in a process of its own).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <vector>

#include "core/descriptors.h"
#include "llm/openai_client.h"
#include "llm/openai_test_support.h"
#include "llm/upstream_loops.h"

namespace flowrun {
namespace {

using testing::Outcome;
using testing::RunStream;

constexpr rlim_t kLimit = 256;

// Takes every free descriptor under a soft limit of kLimit; gives them back
// (and the old limit) when destroyed.
class DescriptorFiller {
 public:
  DescriptorFiller() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = kLimit;
    ok_ = saved_.rlim_max >= kLimit && setrlimit(RLIMIT_NOFILE, &lowered) == 0;
    if (!ok_) return;
    PrepareDescriptorChecks();
    const int source = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (source < 0) return;
    taken_.push_back(source);
    for (int fd; (fd = fcntl(source, F_DUPFD_CLOEXEC, 0)) >= 0;) taken_.push_back(fd);
  }
  ~DescriptorFiller() { Release(); }
  void Release() {
    for (int fd : taken_) close(fd);
    taken_.clear();
    if (ok_) setrlimit(RLIMIT_NOFILE, &saved_);
    ok_ = false;
  }
  // Gives `count` descriptors back (at most as many as were taken).
  void Free(size_t count) {
    for (; count > 0 && !taken_.empty(); --count) {
      close(taken_.back());
      taken_.pop_back();
    }
  }
  bool ok() const { return ok_ && !taken_.empty(); }

 private:
  rlimit saved_{};
  bool ok_ = false;
  std::vector<int> taken_;
};

std::string ExpectedError(const testing::FakeOpenAiUpstream& upstream) {
  return "the server is out of file descriptors (open-file limit " + std::to_string(kLimit) +
         "); cannot connect to upstream " + upstream.base_url();
}

TEST(OpenAiDescriptors, OutOfDescriptorsOnTheLoopIsItsOwnErrorAndNotRetried) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check opens /proc/self/maps; with no descriptor left it
  // reports valid objects as invalid and aborts (seen in make asan).
  GTEST_SKIP() << "the sanitizer runtime itself needs free descriptors";
#endif
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  upstream.SetScript(testing::HelloStream());
  auto client = MakeOpenAiClient(testing::FastRetryConfig(upstream));
  ASSERT_TRUE(RunStream(*client).status.ok());  // the upstream loop runs now
  ASSERT_TRUE(UpstreamLoopsRunning());
  const int requests = upstream.request_count();
  const uint64_t counted = DescriptorShortages(DescriptorShortage::kUpstream);

  DescriptorFiller filler;
  ASSERT_TRUE(filler.ok()) << "cannot lower this process's open-file limit";
  const Outcome outcome = RunStream(*client);
  filler.Release();

  EXPECT_EQ(outcome.status.message(), ExpectedError(upstream));
  EXPECT_EQ(outcome.stats.fault, StreamFault::kOutOfDescriptors);
  EXPECT_EQ(outcome.stats.attempts, 1) << "a lack of descriptors was retried";
  EXPECT_EQ(upstream.request_count(), requests);
  EXPECT_EQ(DescriptorShortages(DescriptorShortage::kUpstream), counted + 1);
  // Descriptors free again: streams work again.
  const Outcome again = RunStream(*client);
  EXPECT_TRUE(again.status.ok()) << again.status.message();
  EXPECT_EQ(upstream.request_count(), requests + 1);
}

// `flowrun run` starts the loops on first use. Out of descriptors then, the
// stream runs alone and gets the same error; the next stream, with
// descriptors free, starts the loops (a failed start is not final).
TEST(OpenAiDescriptors, ALoopThatCouldNotStartStartsLater) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check opens /proc/self/maps; with no descriptor left it
  // reports valid objects as invalid and aborts (seen in make asan).
  GTEST_SKIP() << "the sanitizer runtime itself needs free descriptors";
#endif
  if (UpstreamLoopsRunning()) GTEST_SKIP() << "the loops already run in this process (ctest gives each test its own)";
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  upstream.SetScript(testing::HelloStream());
  auto client = MakeOpenAiClient(testing::FastRetryConfig(upstream));

  DescriptorFiller filler;
  ASSERT_TRUE(filler.ok()) << "cannot lower this process's open-file limit";
  const bool loop_started = StartUpstreamLoops().ok();
  const Outcome outcome = RunStream(*client);
  filler.Release();

  EXPECT_FALSE(loop_started) << "the loops started without a descriptor to spare";
  EXPECT_EQ(outcome.status.message(), ExpectedError(upstream));
  EXPECT_EQ(outcome.stats.attempts, 1);
  EXPECT_EQ(upstream.request_count(), 0);
  EXPECT_TRUE(StartUpstreamLoops().ok()) << "the loops did not start once descriptors were free";
  const Outcome again = RunStream(*client);
  EXPECT_TRUE(again.status.ok()) << again.status.message();
  EXPECT_EQ(upstream.request_count(), 1);
}

TEST(Descriptors, HeadroomIsSeenAndCheap) {
  EXPECT_TRUE(HaveDescriptorHeadroom(kDescriptorsPerStream));
  {
    DescriptorFiller filler;
    ASSERT_TRUE(filler.ok()) << "cannot lower this process's open-file limit";
    EXPECT_FALSE(HaveDescriptorHeadroom(1));
  }
  {
    DescriptorFiller filler;
    ASSERT_TRUE(filler.ok()) << "cannot lower this process's open-file limit";
    filler.Free(2);
    EXPECT_TRUE(HaveDescriptorHeadroom(2));
    EXPECT_FALSE(HaveDescriptorHeadroom(3));
    EXPECT_TRUE(HaveDescriptorHeadroom(2)) << "the check kept a descriptor";
  }
  // The cost of one admission check (about a microsecond; bounded loosely).
  const auto start = std::chrono::steady_clock::now();
  constexpr int kChecks = 20000;
  for (int i = 0; i < kChecks; ++i) ASSERT_TRUE(HaveDescriptorHeadroom(kDescriptorsPerStream));
  const double per_check_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kChecks;
  std::cout << "HaveDescriptorHeadroom(" << kDescriptorsPerStream << "): " << per_check_us << " us per check\n";
  EXPECT_LT(per_check_us, 200.0);
}

}  // namespace
}  // namespace flowrun
