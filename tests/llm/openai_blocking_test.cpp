// The blocking Stream of a custom step or a test: the call runs on a run
// loop while the caller sleeps, and calls from several threads spread over
// the loops. (Cancelling it from another thread: openai_client_test.)
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/event_loop.h"
#include "core/loop_threads.h"
#include "llm/openai_client.h"
#include "llm/openai_test_support.h"
#include "llm/upstream_loops.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::HttpError;
using testing::OpenAiDeltaEvent;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(OpenAiBlocking, CallsFromSeveralThreadsRunOnTheRunLoops) {
  SetUpstreamLoopCount(2);
  ASSERT_TRUE(StartUpstreamLoops().ok());
  FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  upstream.SetScript(testing::HelloStream());
  auto client = MakeOpenAiClient(testing::FastRetryConfig(upstream));
  std::mutex mutex;
  std::set<EventLoop*> loops;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      const Status status = client->Stream(
          testing::HelloRequest(),
          [&](std::string_view) {
            std::lock_guard<std::mutex> lock(mutex);
            loops.insert(EventLoop::Current());
            return true;
          },
          Cancellation());
      if (status.ok()) ++ok;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(loops.count(nullptr), 0u) << "a delta arrived off the run loops";
  // Round-robin: four calls over the loops (two in a process of its own,
  // as ctest runs it) use each of them.
  EXPECT_EQ(loops.size(), std::min<size_t>(4, LoopThreads::Shared().size()));
}

}  // namespace
}  // namespace flowrun
