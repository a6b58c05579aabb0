// The blocking StreamWithStats as today's server uses it: the call runs on a
// run loop while the caller sleeps, and the caller's Cancellation is
// bridged there: consumer_backlogged pauses the transfer until the probe
// clears it, the probe keeps running during a retry backoff (it sends the
// server's heartbeats), and calls from several threads spread over the loops.
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

TEST(OpenAiBlocking, ConsumerBacklogPausesTheTransferUntilTheProbeClearsIt) {
  FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  std::vector<std::string> expected;
  const std::vector<std::string> pieces = testing::NumberedDeltaStream(100, &expected);
  upstream.SetStream(pieces, FakeUpstreamScript::End::kComplete, milliseconds(1));
  auto client = MakeOpenAiClient(testing::FastRetryConfig(upstream));

  // All of this is touched on the loop thread only, until the call returns.
  Cancellation cancel;
  std::vector<std::string> deltas;
  size_t at_backlog = 0;
  size_t at_clear = 0;
  Clock::time_point backlogged_at;
  cancel.SetProbe([&] {
    // The consumer catches up 300 ms after it fell behind.
    if (cancel.consumer_backlogged() && Clock::now() - backlogged_at >= milliseconds(300)) {
      at_clear = deltas.size();
      cancel.SetConsumerBacklogged(false);
    }
    return true;
  });
  const Status status = client->Stream(
      testing::HelloRequest(),
      [&](std::string_view text) {
        if (text.empty()) return true;
        deltas.emplace_back(text);
        if (deltas.size() == 10) {
          backlogged_at = Clock::now();
          at_backlog = deltas.size();
          cancel.SetConsumerBacklogged(true);
        }
        return true;
      },
      cancel);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(deltas, expected);
  ASSERT_GT(at_clear, 0u) << "the backlog never cleared";
  EXPECT_LE(at_clear, at_backlog + 1) << "deltas kept coming while the consumer was backlogged";
}

TEST(OpenAiBlocking, TheProbeKeepsRunningDuringTheBackoff) {
  FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  upstream.SetScripts({HttpError(503, "", {{"Retry-After", "1"}}), testing::HelloStream()});
  OpenAiConfig config = testing::FastRetryConfig(upstream);
  config.retry_max_ms = 5000;
  auto client = MakeOpenAiClient(config);
  Cancellation cancel;
  std::atomic<int> during_backoff{0};
  cancel.SetProbe([&] {
    if (upstream.request_count() == 1) ++during_backoff;
    return true;
  });
  const testing::Outcome outcome = testing::RunStream(*client, cancel);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.stats.attempts, 2);
  // Every 100 ms over a one-second wait (the server's heartbeats ride on it).
  EXPECT_GE(during_backoff.load(), 5) << "the probe did not run while the call waited to retry";
}

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
