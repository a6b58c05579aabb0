// `flowrun serve` with few file descriptors (a hard RLIMIT_NOFILE set with
// prlimit, since serve raises its soft limit to the hard one): it refuses to
// start when its upstream loops cannot, and a stream that finds no
// descriptor to spare gets 503 with Retry-After, never an upstream error,
// with the model never called, a log line and a metric.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kPrlimit = "/usr/bin/prlimit";

std::vector<std::string> ServeWithLimit(int limit, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kPrlimit, "--nofile=" + std::to_string(limit) + ":" + std::to_string(limit),
                                   FLOWRUN_BINARY, "serve"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Descriptors this test inherited (from ctest, say) must not reach serve,
// whose descriptor count the tests rely on.
void KeepInheritedDescriptorsFromChildren() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    if (fd > 2) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  }
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ServeDescriptors, DoesNotStartWhenItsUpstreamLoopCannotStart) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check opens /proc/self/maps; with no descriptor left it
  // reports valid objects as invalid and aborts (seen in make asan).
  GTEST_SKIP() << "the sanitizer runtime itself needs free descriptors";
#endif
  if (access(kPrlimit, X_OK) != 0) GTEST_SKIP() << "prlimit (util-linux) is not installed";
  KeepInheritedDescriptorsFromChildren();
  // 0-2 are stdio and 3 the reserve for descriptor checks: one is left,
  // for the run loop's epoll set but not its wake-up descriptor. (It is free again at
  // exit, for LeakSanitizer under `make asan`.)
  const testing::ProcessResult result = testing::RunProcess(
      ServeWithLimit(5, {std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--port", "0", "--io-threads", "1"}),
      {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "flowrun serve: error: cannot start run loop 1 of 1: cannot create an event loop: Too many open files\n");
  EXPECT_EQ(result.out.find("listening on"), std::string::npos);
}

TEST(ServeDescriptors, AStreamWithoutDescriptorsToSpareGets503) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check opens /proc/self/maps; with no descriptor left it
  // reports valid objects as invalid and aborts (seen in make asan).
  GTEST_SKIP() << "the sanitizer runtime itself needs free descriptors";
#endif
  if (access(kPrlimit, X_OK) != 0) GTEST_SKIP() << "prlimit (util-linux) is not installed";
  KeepInheritedDescriptorsFromChildren();
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  upstream.SetStream({testing::OpenAiDeltaEvent("hi"), testing::OpenAiFinishEvent(), testing::kOpenAiDoneEvent});
  constexpr int kLimit = 128;
  const std::string log_path = testing::WriteTempFile("descriptors.log", "");
  testing::BackgroundProcess server(
      ServeWithLimit(kLimit, {std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--port", "0", "--io-threads", "1",
                              "--no-watch"}),
      {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}}, log_path);
  const int port = testing::WaitForListeningPort(server);
  ASSERT_GT(port, 0);
  const int base = testing::ReadProcessUsage(server.pid()).fds;
  ASSERT_LT(base + 8, kLimit) << "serve alone holds " << base << " descriptors";

  // Idle connections take all descriptors but one, which the stream's own
  // connection then takes: nothing is left for its upstream socket.
  std::vector<int> idle;
  for (int i = 0; i < kLimit - base - 1; ++i) {
    const int fd = testing::ConnectTo(port);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(4);
  while (testing::ReadProcessUsage(server.pid()).fds < kLimit - 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(testing::ReadProcessUsage(server.pid()).fds, kLimit - 1) << "the idle connections were not all accepted";

  const testing::RawResponse refused = testing::RawRequest(port, "POST", "/chat", R"({"message":"hi"})");
  for (int fd : idle) close(fd);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.headers.count("retry-after") != 0 ? refused.headers.at("retry-after") : "", "1");
  EXPECT_EQ(refused.body, "{\"error\":\"the server is out of file descriptors (open-file limit " +
                              std::to_string(kLimit) + "); retry shortly\"}\n");
  EXPECT_EQ(upstream.request_count(), 0) << "the model was called";

  // Descriptors free again: streams run again, and the refusal was counted.
  bool streamed = false;
  for (int i = 0; i < 100 && !streamed; ++i) {
    const testing::RawResponse ok = testing::RawRequest(port, "POST", "/chat", R"({"message":"hi"})");
    streamed = ok.status == 200 && ok.body.find("data: \"hi\"") != std::string::npos;
    if (!streamed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(streamed) << "no stream after the descriptors were freed";
  EXPECT_EQ(upstream.request_count(), 1);
  const testing::RawResponse metrics = testing::RawRequest(port, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("flowrun_fd_exhausted_total{where=\"admission\"} 1\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("flowrun_requests_total{flow=\"chat\",status=\"503\"} 1\n"), std::string::npos);

  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(std::chrono::seconds(10)), 0);
  const std::string log = ReadText(log_path);
  EXPECT_NE(log.find("POST /chat (chat) 503: the server is out of file descriptors (open-file limit " +
                     std::to_string(kLimit) + "); retry shortly"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("warning the server is out of file descriptors (open-file limit " + std::to_string(kLimit) +
                     "): new streams get 503; raise the limit (ulimit -n) or lower --max-streams"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("cannot reach upstream"), std::string::npos) << log;
}

}  // namespace
}  // namespace flowrun
