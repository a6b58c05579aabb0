// Control steps against real model transfers (the fake OpenAI upstream on
// 127.0.0.1): parallel branches and map items wait on the upstream
// together, a cancelled run aborts every branch's transfer, timeout_ms
// aborts its step's transfer, a loop of model calls stops at its bound.
// Bounds are generous: they hold on a loaded 2-core machine.
#include <gtest/gtest.h>

#include <thread>

#include "fakes/fake_openai_upstream.h"
#include "flow/flow_test_support.h"
#include "llm/provider_factory.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;

// Polls `condition` every 5 ms until it holds or `limit` passes.
bool WaitUntil(const std::function<bool()>& condition, milliseconds limit = milliseconds(5000)) {
  const auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

double Seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

class UpstreamControl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(upstream_.port(), 0);
    environment_.make_llm_client = MakeLlmClient;
  }
  // `{{URL}}` in the YAML becomes the fake's base URL.
  std::shared_ptr<const Flow> Load(std::string yaml) {
    for (size_t at = yaml.find("{{URL}}"); at != std::string::npos; at = yaml.find("{{URL}}")) {
      yaml.replace(at, 7, upstream_.base_url());
    }
    return testing::LoadOrFail(yaml, registry_, environment_);
  }
  // An answer of one delta, its first byte `delay` after the request.
  void AnswerAfter(milliseconds delay) {
    FakeUpstreamScript script;
    script.pieces = {": thinking\n\n", testing::OpenAiDeltaEvent("done") + testing::OpenAiFinishEvent() +
                                           testing::kOpenAiDoneEvent};
    script.piece_delay = delay;
    upstream_.SetScript(script);
  }

  FakeOpenAiUpstream upstream_;
  StepRegistry registry_ = testing::TestRegistry();
  StepEnvironment environment_ = testing::FakeEnvironment(nullptr);
};

TEST_F(UpstreamControl, AParallelBlockOfTwoOneSecondCallsTakesAboutOneSecond) {
  AnswerAfter(milliseconds(1000));
  auto flow = Load(R"yaml(version: 1
name: par
steps:
  - id: both
    type: parallel
    stream: interleave
    branches:
      a: [{id: ask, type: llm-stream, provider: openai, base_url: "{{URL}}", output: a}]
      b: [{id: ask, type: llm-stream, provider: openai, base_url: "{{URL}}", output: b}]
)yaml");
  ASSERT_TRUE(flow);
  const auto start = Clock::now();
  auto traced = testing::TraceRun(*flow);
  const double elapsed = Seconds(Clock::now() - start);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["a"], "done");
  EXPECT_EQ(traced.result.state["b"], "done");
  EXPECT_EQ(upstream_.request_count(), 2);
  EXPECT_GE(elapsed, 0.95);
  EXPECT_LT(elapsed, 1.8) << "the two calls did not overlap";
  const auto times = upstream_.request_times();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_LT(Seconds(times[1] - times[0]), 0.5) << "the second request waited for the first answer";
}

TEST_F(UpstreamControl, AMapOfEightItemsWithConcurrencyFourTakesTwoRounds) {
  AnswerAfter(milliseconds(500));
  auto flow = Load(R"yaml(version: 1
name: map
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    concurrency: 4
    steps:
      - id: sum
        type: llm-stream
        provider: openai
        base_url: "{{URL}}"
        stream: false
        messages: [{role: user, content: "summarize {{ item }}"}]
    collect: reply
    output: summaries
)yaml");
  ASSERT_TRUE(flow);
  const auto start = Clock::now();
  auto traced = testing::TraceRun(*flow, {{"docs", {1, 2, 3, 4, 5, 6, 7, 8}}});
  const double elapsed = Seconds(Clock::now() - start);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["summaries"].size(), 8u);
  EXPECT_EQ(upstream_.request_count(), 8);
  // Two rounds of 0.5 s: about 1 s (one round would be 0.5 s, one at a time 4 s).
  EXPECT_GE(elapsed, 0.95);
  EXPECT_LT(elapsed, 1.8);
  const auto times = upstream_.request_times();
  ASSERT_EQ(times.size(), 8u);
  EXPECT_LT(Seconds(times[3] - times[0]), 0.4) << "the first four requests go together";
  EXPECT_GE(Seconds(times[4] - times[0]), 0.45) << "the fifth waits for a slot";
  for (const auto& event : traced.raw) EXPECT_NE(event.type, Event::Type::kChunk) << "stream: false";
}

TEST_F(UpstreamControl, CancellingARunMidParallelAbortsEveryBranchsTransfer) {
  FakeUpstreamScript script;
  script.pieces = {testing::OpenAiDeltaEvent("first")};
  script.end = FakeUpstreamScript::End::kTrickle;  // alive, never finishing
  upstream_.SetScript(script);
  auto flow = Load(R"yaml(version: 1
name: par
steps:
  - id: both
    type: parallel
    stream: interleave
    branches:
      a: [{id: ask, type: llm-stream, provider: openai, base_url: "{{URL}}", output: ra}]
      b: [{id: ask, type: llm-stream, provider: openai, base_url: "{{URL}}", output: rb}]
)yaml");
  ASSERT_TRUE(flow);
  Cancellation cancel;
  std::vector<std::string> errors;
  std::thread run([&] {
    RunFlow(*flow, nlohmann::json::object(), [&](const Event& event) {
      if (event.type == Event::Type::kError) errors.push_back(event.text);
      return true;
    }, cancel);
  });
  const bool both_streaming = WaitUntil([&] { return upstream_.open_responses() == 2; });
  const auto cancelled_at = Clock::now();
  cancel.Cancel("client disconnected");
  const bool both_gone = WaitUntil([&] { return upstream_.open_responses() == 0; });
  const double took = Seconds(Clock::now() - cancelled_at);
  run.join();
  ASSERT_TRUE(both_streaming) << "the two branches never streamed together";
  EXPECT_TRUE(both_gone) << "a branch's upstream transfer outlived the cancelled run";
  EXPECT_LT(took, 1.0);
  EXPECT_EQ(errors, std::vector<std::string>{"client disconnected"});
}

TEST_F(UpstreamControl, CancellingARunMidMapAbortsEveryItemsTransfer) {
  FakeUpstreamScript script;
  script.end = FakeUpstreamScript::End::kTrickle;
  upstream_.SetScript(script);
  auto flow = Load(R"yaml(version: 1
name: map
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    concurrency: 3
    steps: [{id: ask, type: llm-stream, provider: openai, base_url: "{{URL}}", stream: false}]
)yaml");
  ASSERT_TRUE(flow);
  Cancellation cancel;
  RunResult result;
  std::thread run([&] {
    result = RunFlow(*flow, {{"docs", {1, 2, 3, 4, 5, 6}}}, [](const Event&) { return true; }, cancel);
  });
  const bool three_streaming = WaitUntil([&] { return upstream_.open_responses() == 3; });
  cancel.Cancel("the server is shutting down");
  const bool all_gone = WaitUntil([&] { return upstream_.open_responses() == 0; }, milliseconds(1000));
  run.join();
  ASSERT_TRUE(three_streaming) << "three items never streamed together";
  EXPECT_TRUE(all_gone) << "an item's upstream transfer outlived the cancelled run";
  EXPECT_EQ(upstream_.request_count(), 3) << "no item started after the cancellation";
  EXPECT_EQ(result.error, "the server is shutting down");
}

TEST_F(UpstreamControl, TimeoutMsAbortsTheStepsUpstreamTransfer) {
  FakeUpstreamScript script;
  script.end = FakeUpstreamScript::End::kTrickle;  // headers, then keep-alive comments only
  upstream_.SetScript(script);
  auto flow = Load(R"yaml(version: 1
name: t
steps:
  - {id: reply, type: llm-stream, provider: openai, base_url: "{{URL}}", timeout_ms: 200}
)yaml");
  ASSERT_TRUE(flow);
  const auto start = Clock::now();
  auto traced = testing::TraceRun(*flow);
  const double elapsed = Seconds(Clock::now() - start);
  EXPECT_EQ(traced.result.error, "step 'reply' timed out after 200 ms (timeout_ms)");
  EXPECT_GE(elapsed, 0.19);
  EXPECT_LT(elapsed, 1.0);
  EXPECT_TRUE(WaitUntil([&] { return upstream_.open_responses() == 0; }, milliseconds(1000)))
      << "the transfer went on after the step timed out";
  ASSERT_TRUE(upstream_.client_gone_at().has_value());
  EXPECT_LT(Seconds(*upstream_.client_gone_at() - start), 1.0);
  EXPECT_EQ(upstream_.request_count(), 1) << "a timeout is not an upstream retry";
}

TEST_F(UpstreamControl, ALoopOfModelCallsStopsAtItsBoundAndTheEventSaysSo) {
  AnswerAfter(milliseconds(0));
  auto flow = Load(R"yaml(version: 1
name: l
steps:
  - id: revise
    type: loop
    max_iterations: 3
    until: reply == "approved"
    steps:
      - {id: draft, type: llm-stream, provider: openai, base_url: "{{URL}}", stream: false}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = testing::TraceRun(*flow);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(upstream_.request_count(), 3);
  const nlohmann::json after = EventToJson(traced.raw[traced.raw.size() - 2]);
  EXPECT_EQ(after["event"], "step:after");
  EXPECT_EQ(after["path"], "revise");
  EXPECT_EQ(after["iterations"], 3);
  EXPECT_EQ(after["limit_reached"], true);
}

}  // namespace
}  // namespace flowrun
