// Per-step policies: retry (the whole step again, never once it streamed),
// on_error (continue, or fallback steps that see error.message and
// error.step), timeout_ms (the step's scope cancelled, its wait cut short).
#include <gtest/gtest.h>

#include "flow/flow_test_support.h"

namespace flowrun {
namespace {

using testing::FakeEnvironment;
using testing::FakeLlmClient;
using testing::LoadOrFail;
using testing::TestRegistry;
using testing::TraceRun;
using Lines = std::vector<std::string>;

class StepPolicies : public ::testing::Test {
 protected:
  std::shared_ptr<const Flow> Load(const std::string& yaml) { return LoadOrFail(yaml, registry_, environment_); }
  std::shared_ptr<std::atomic<int>> runs_ = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<FakeLlmClient> client_ = std::make_shared<FakeLlmClient>();
  StepRegistry registry_ = TestRegistry(runs_);
  StepEnvironment environment_ = FakeEnvironment(client_);
};

TEST_F(StepPolicies, RetryRunsTheStepAgainAfterAnErrorWithItsBackoff) {
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - id: shaky
    type: flaky
    succeed_on: 3
    retry: {max_attempts: 3, backoff_ms: 100}
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(traced.events, (Lines{"before shaky", "after shaky attempts=3", "done ok"}));
  EXPECT_EQ(traced.result.state["flaky"], "ok after 3");
  EXPECT_GE(elapsed, std::chrono::milliseconds(200)) << "two backoffs of 100 ms";
}

TEST_F(StepPolicies, RetryGivesUpAfterMaxAttemptsWithTheLastError) {
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - {id: shaky, type: flaky, succeed_on: 10, retry: {max_attempts: 2}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before shaky", "error shaky flaky failure 2", "done failed"}));
  EXPECT_EQ(*runs_, 2);
}

TEST_F(StepPolicies, ARetriedControlStepStartsAgainFromTheStateItFirstSaw) {
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - id: block
    type: loop
    max_iterations: 1
    retry: {max_attempts: 3}
    steps:
      - {id: note, type: append-message, content: "try"}
      - {id: shaky, type: flaky, succeed_on: 3}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["history"].size(), 1u) << "the failed attempts' writes were undone";
  EXPECT_EQ(traced.events.back(), "done ok");
  EXPECT_EQ(traced.events[traced.events.size() - 2], "after block iterations=1 limit_reached attempts=3");
}

TEST_F(StepPolicies, AStepThatStreamedIsNeverRetried) {
  client_->final_status = Status::Error("upstream stream ended before the answer finished");
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - {id: reply, type: llm-stream, retry: {max_attempts: 3}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before reply", "chunk reply Hel", "chunk reply lo", "chunk reply !",
                                  "error reply upstream stream ended before the answer finished", "done failed"}));
  EXPECT_EQ(client_->requests().size(), 1u);
}

TEST_F(StepPolicies, OnErrorContinueGoesOnAndStepAfterCarriesTheError) {
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - {id: shaky, type: flaky, succeed_on: 5, on_error: continue}
  - {id: next, type: set, values: {went_on: "yes"}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before shaky", "after shaky error=flaky failure 1", "before next", "after next",
                                  "done ok"}));
  EXPECT_EQ(EventToJson(traced.raw[1])["error"], "flaky failure 1");
}

TEST_F(StepPolicies, OnErrorStepsSeeTheErrorAndReplaceTheFailure) {
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - id: risky
    type: loop
    max_iterations: 1
    steps:
      - {id: inner, type: flaky, succeed_on: 5}
    on_error:
      - id: explain
        type: set
        values: {why: "{{ error.step }}: {{ error.message }}"}
  - {id: next, type: set, values: {seen: "{{ why }}"}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events,
            (Lines{"before risky", "before risky/steps/inner #1", "before risky/on_error/explain",
                   "after risky/on_error/explain", "after risky iterations=1 error=flaky failure 1", "before next", "after next",
                   "done ok"}));
  EXPECT_EQ(traced.result.state["seen"], "inner: flaky failure 1");
  EXPECT_FALSE(traced.result.state.contains("error")) << "error is only set while the fallback runs";
}

TEST_F(StepPolicies, AFailingFallbackFailsTheRun) {
  auto flow = Load(R"yaml(version: 1
name: r
steps:
  - id: risky
    type: flaky
    succeed_on: 5
    on_error:
      - {id: worse, type: fail, message: "gave up after {{ error.message }}"}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before risky", "before risky/on_error/worse",
                                  "error risky/on_error/worse gave up after flaky failure 1", "done failed"}));
}

TEST_F(StepPolicies, TimeoutCancelsTheStepsScopeAndFailsItNamingTheLimit) {
  auto flow = Load(R"yaml(version: 1
name: t
steps:
  - {id: slow, type: wait, ms: 20000, timeout_ms: 100}
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(traced.events, (Lines{"before slow", "error slow step 'slow' timed out after 100 ms (timeout_ms)",
                                  "done failed"}));
  EXPECT_GE(elapsed, std::chrono::milliseconds(90));
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST_F(StepPolicies, ATimeoutOnAControlStepStopsEverythingInsideIt) {
  auto flow = Load(R"yaml(version: 1
name: t
steps:
  - id: both
    type: parallel
    timeout_ms: 150
    on_error: continue
    branches:
      a: [{id: w, type: wait, ms: 20000, output: wa}]
      b: [{id: w, type: wait, ms: 20000, output: wb}]
  - {id: next, type: set, values: {x: 1}}
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(traced.events, (Lines{"before both", "before both/branches.a/w", "before both/branches.b/w",
                                  "after both error=step 'both' timed out after 150 ms (timeout_ms)", "before next",
                                  "after next", "done ok"}));
}

TEST_F(StepPolicies, ATimeoutIsRetriedLikeAnyError) {
  auto flow = Load(R"yaml(version: 1
name: t
steps:
  - {id: slow, type: wait, ms: 20000, timeout_ms: 50, retry: {max_attempts: 2}}
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(95)) << "two attempts of 50 ms";
  EXPECT_EQ(traced.events, (Lines{"before slow", "error slow step 'slow' timed out after 50 ms (timeout_ms)",
                                  "done failed"}));
}

TEST_F(StepPolicies, ACancelledRunIsNeitherRetriedNorHandled) {
  auto flow = Load(R"yaml(version: 1
name: t
steps:
  - {id: slow, type: wait, ms: 20000, retry: {max_attempts: 5}, on_error: continue}
  - {id: next, type: set, values: {x: 1}}
)yaml");
  ASSERT_TRUE(flow);
  Cancellation cancel;
  std::vector<std::string> lines;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.Cancel("the server is shutting down");
  });
  RunResult result = RunFlow(*flow, nlohmann::json::object(), [&](const Event& event) {
    lines.push_back(testing::Describe(event));
    return true;
  }, cancel);
  canceller.join();
  EXPECT_EQ(lines, (Lines{"before slow", "error slow the server is shutting down", "done failed"}));
  EXPECT_FALSE(result.ok);
}

}  // namespace
}  // namespace flowrun
