// OpenAiClient::StreamAsync end to end on a test's own EventLoop against
// FakeOpenAiUpstream: deltas in order on the loop thread with flush hints,
// the retry backoff as a timer (the loop keeps running meanwhile), a
// cancelled scope ending the call promptly (during a transfer and during
// the backoff), flow control pausing and resuming the transfer, the
// first-token timeout, and a call from a loop thread through the blocking
// API, which drives its transfer alone rather than wait for its own loop.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cancel_scope.h"
#include "core/flow_control.h"
#include "core/loop_awaitables.h"
#include "llm/loop_test_support.h"
#include "llm/openai_client.h"
#include "llm/openai_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::HttpError;
using testing::LoopThread;
using testing::OpenAiDeltaEvent;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One StreamAsync call and everything it touched; lives on the loop.
struct AsyncCall {
  CancelScope scope;
  FlowControl flow;
  StreamStats stats;
  ChatRequest request = testing::HelloRequest();
  std::vector<std::string> deltas;
  int flushes = 0;
  bool all_on_loop = true;
  std::optional<Status> status;
  Clock::time_point ended_at;
  // Runs on every non-empty delta (after it is recorded); false stops.
  std::function<bool()> on_text;
};

class OpenAiAsyncTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(upstream_.port(), 0); }
  // Calls still running (a failed assertion) end before what they use goes.
  void TearDown() override {
    loop_.Run([&] {
      for (auto& call : calls_) call->scope.Cancel("test over");
    });
    EXPECT_TRUE(loop_.WaitFor([&] {
      for (auto& call : calls_) {
        if (!call->status) return false;
      }
      return true;
    }));
  }

  LlmClient& Client(OpenAiConfig config = {}) {
    config.base_url = upstream_.base_url();
    config.api_key = testing::kTestKey;
    if (config.retry_initial_ms == OpenAiConfig().retry_initial_ms) config.retry_initial_ms = 10;
    if (config.retry_max_ms == OpenAiConfig().retry_max_ms) config.retry_max_ms = 40;
    client_ = MakeOpenAiClient(config);
    return *client_;
  }
  AsyncCall& NewCall() {
    calls_.push_back(std::make_unique<AsyncCall>());
    return *calls_.back();
  }

  // Starts the call on the loop (call from the test thread).
  void Start(LlmClient& client, AsyncCall& call) {
    loop_.Run([&] {
      EventLoop& loop = loop_.loop();
      DeltaCallback on_delta = [&call, &loop](std::string_view text) {
        call.all_on_loop = call.all_on_loop && EventLoop::Current() == &loop;
        if (text.empty()) {
          ++call.flushes;
          return true;
        }
        call.deltas.emplace_back(text);
        return !call.on_text || call.on_text();
      };
      StreamContext context{loop, call.scope, &call.flow, &call.stats};
      StartTask<Status>(client.StreamAsync(call.request, std::move(on_delta), context),
                        [&call](std::optional<Status> status, std::exception_ptr) {
                          call.status = status.value_or(Status::Error("threw"));
                          call.ended_at = Clock::now();
                        });
    });
  }
  bool WaitEnded(AsyncCall& call, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return loop_.WaitFor([&] { return call.status.has_value(); }, limit);
  }

  FakeOpenAiUpstream upstream_;
  LoopThread loop_;
  std::unique_ptr<LlmClient> client_;
  std::vector<std::unique_ptr<AsyncCall>> calls_;
};

TEST_F(OpenAiAsyncTest, DeltasArriveInOrderOnTheLoopWithFlushHints) {
  upstream_.SetScript(testing::HelloStream());
  LlmClient& client = Client();
  AsyncCall& call = NewCall();
  Start(client, call);
  ASSERT_TRUE(WaitEnded(call));
  loop_.Run([&] {
    EXPECT_TRUE(call.status->ok()) << call.status->message();
    EXPECT_EQ(call.deltas, (std::vector<std::string>{"Hel", "lo"}));
    EXPECT_TRUE(call.all_on_loop) << "a delta reached the consumer off the loop thread";
    EXPECT_GE(call.flushes, 1) << "no flush hint after the deltas";
    EXPECT_EQ(call.stats.attempts, 1);
    EXPECT_EQ(call.stats.fault, StreamFault::kNone);
    EXPECT_EQ(call.stats.http_status, 200);
  });
}

TEST_F(OpenAiAsyncTest, TheRetryBackoffIsATimerAndTheLoopKeepsRunning) {
  upstream_.SetScripts({HttpError(429, R"({"error":{"message":"Rate limit reached"}})", {{"Retry-After", "1"}}),
                        testing::HelloStream()});
  OpenAiConfig config;
  config.retry_max_ms = 5000;  // the cap must not cut the Retry-After short
  LlmClient& client = Client(config);
  AsyncCall& call = NewCall();
  // A 10 ms heartbeat on the same loop: its longest gap shows whether
  // anything held the loop's thread.
  Clock::duration longest_gap{};
  Clock::time_point last_beat = Clock::now();
  EventLoop::TimerId beat_timer = 0;
  std::function<void()> beat = [&] {
    const Clock::time_point now = Clock::now();
    longest_gap = std::max(longest_gap, now - last_beat);
    last_beat = now;
    beat_timer = loop_.loop().After(milliseconds(10), beat);
  };
  loop_.Run([&] {
    last_beat = Clock::now();
    beat_timer = loop_.loop().After(milliseconds(10), beat);
  });
  Start(client, call);
  const bool ended = WaitEnded(call);
  loop_.Run([&] { loop_.loop().CancelTimer(beat_timer); });
  ASSERT_TRUE(ended);
  loop_.Run([&] {
    EXPECT_TRUE(call.status->ok()) << call.status->message();
    EXPECT_EQ(call.deltas, (std::vector<std::string>{"Hel", "lo"}));
    EXPECT_EQ(call.stats.attempts, 2);
    EXPECT_EQ(call.stats.retries, 1);
    EXPECT_LT(longest_gap, milliseconds(500)) << "the loop was held during the backoff";
  });
  const auto times = upstream_.request_times();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_GE(times[1] - times[0], milliseconds(1000)) << "the Retry-After was not waited out";
}

TEST_F(OpenAiAsyncTest, CancellingTheScopeAbortsTheTransferPromptly) {
  upstream_.SetStream({OpenAiDeltaEvent("a")}, FakeUpstreamScript::End::kTrickle);
  LlmClient& client = Client();
  AsyncCall& call = NewCall();
  Start(client, call);
  ASSERT_TRUE(loop_.WaitFor([&] { return !call.deltas.empty(); }));
  Clock::time_point cancelled_at;
  loop_.Run([&] {
    cancelled_at = Clock::now();
    call.scope.Cancel("client disconnected");
    EXPECT_FALSE(call.status.has_value()) << "the call ended inside the scope's callback";
  });
  ASSERT_TRUE(WaitEnded(call));
  loop_.Run([&] {
    EXPECT_EQ(call.status->message(), "cancelled");
    EXPECT_EQ(call.stats.fault, StreamFault::kCancelled);
    EXPECT_LT(call.ended_at - cancelled_at, milliseconds(500));
  });
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (!upstream_.client_gone_at() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(upstream_.client_gone_at().has_value()) << "the upstream connection stayed open";
  EXPECT_LT(*upstream_.client_gone_at() - cancelled_at, milliseconds(1000));
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(OpenAiAsyncTest, CancellingTheScopeEndsTheBackoffAtOnce) {
  upstream_.SetScript(HttpError(503, "", {{"Retry-After", "60"}}));
  OpenAiConfig config;
  config.retry_max_ms = 60000;
  LlmClient& client = Client(config);
  AsyncCall& call = NewCall();
  Start(client, call);
  ASSERT_TRUE(loop_.WaitFor([&] { return upstream_.request_count() == 1 && call.stats.attempts == 1; }));
  std::this_thread::sleep_for(milliseconds(100));  // into the minute's wait
  Clock::time_point cancelled_at;
  loop_.Run([&] {
    EXPECT_FALSE(call.status.has_value());
    cancelled_at = Clock::now();
    call.scope.Cancel("client disconnected");
  });
  ASSERT_TRUE(WaitEnded(call, std::chrono::seconds(5)));
  loop_.Run([&] {
    EXPECT_EQ(call.status->message(), "cancelled");
    EXPECT_EQ(call.stats.fault, StreamFault::kCancelled);
    EXPECT_LT(call.ended_at - cancelled_at, milliseconds(500));
  });
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(OpenAiAsyncTest, AScopeCancelledBeforeTheCallSendsNothing) {
  LlmClient& client = Client();
  AsyncCall& call = NewCall();
  call.scope.Cancel("stop");
  Start(client, call);
  ASSERT_TRUE(WaitEnded(call));
  loop_.Run([&] { EXPECT_EQ(call.status->message(), "cancelled"); });
  EXPECT_EQ(upstream_.request_count(), 0);
}

TEST_F(OpenAiAsyncTest, ABackloggedConsumerPausesTheTransferUntilItClears) {
  std::vector<std::string> expected;
  const std::vector<std::string> pieces = testing::NumberedDeltaStream(100, &expected);
  upstream_.SetStream(pieces, FakeUpstreamScript::End::kComplete, milliseconds(1));
  LlmClient& client = Client();
  AsyncCall& call = NewCall();
  size_t at_backlog = 0;
  call.on_text = [&] {
    if (call.deltas.size() == 10) {
      call.flow.SetBacklogged(true);
      at_backlog = call.deltas.size();
    }
    return true;
  };
  Start(client, call);
  ASSERT_TRUE(loop_.WaitFor([&] { return call.flow.backlogged(); }));
  std::this_thread::sleep_for(milliseconds(400));  // what a paused transfer would have read meanwhile: all of it
  loop_.Run([&] {
    EXPECT_FALSE(call.status.has_value()) << "the call ended while paused";
    EXPECT_LE(call.deltas.size(), at_backlog + 1) << "deltas kept coming while the consumer was backlogged";
    call.flow.SetBacklogged(false);
  });
  ASSERT_TRUE(WaitEnded(call));
  loop_.Run([&] {
    EXPECT_TRUE(call.status->ok()) << call.status->message();
    EXPECT_EQ(call.deltas, expected);
  });
}

TEST_F(OpenAiAsyncTest, KeepsTheFirstTokenTimeout) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kTrickle);  // keep-alive comments only
  OpenAiConfig config;
  config.first_token_timeout_ms = 300;
  LlmClient& client = Client(config);
  AsyncCall& call = NewCall();
  const Clock::time_point started = Clock::now();
  Start(client, call);
  ASSERT_TRUE(WaitEnded(call));
  loop_.Run([&] {
    EXPECT_EQ(call.status->message(), "no first token from upstream within 300 ms");
    EXPECT_EQ(call.status->code(), StatusCode::kDeadlineExceeded);
    EXPECT_EQ(call.stats.fault, StreamFault::kTimeout);
    EXPECT_GE(call.ended_at - started, milliseconds(300));
    EXPECT_LT(call.ended_at - started, milliseconds(3000));
  });
}

// The blocking API on a loop thread (a delta callback that streams again)
// must not wait for the loop it is running on.
TEST_F(OpenAiAsyncTest, TheBlockingCallOnALoopThreadDrivesItsTransferAlone) {
  upstream_.SetScript(testing::HelloStream());
  LlmClient& client = Client();
  testing::Outcome outcome;
  std::thread::id ran_on;
  loop_.Run([&] {
    ran_on = std::this_thread::get_id();
    outcome = testing::RunStream(client);
  });
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel", "lo"}));
}

}  // namespace
}  // namespace flowrun
