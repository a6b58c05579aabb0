// Control steps at run time, with exact event traces: loop, parallel
// (scopes, merge, history as a key), call (output, output_from, missing
// flow, input checked, paths), fail, set; the events' paths, iterations
// and branches.
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

class ControlSteps : public ::testing::Test {
 protected:
  std::shared_ptr<const Flow> Load(const std::string& yaml, const std::string& file = "flow.yaml") {
    return LoadOrFail(yaml, registry_, environment_, file);
  }
  std::shared_ptr<FakeLlmClient> client_ = std::make_shared<FakeLlmClient>();
  StepRegistry registry_ = TestRegistry();
  StepEnvironment environment_ = FakeEnvironment(client_);
};

TEST_F(ControlSteps, LoopRunsItsStepsUpToItsBoundAndSaysSo) {
  auto flow = Load(R"yaml(version: 1
name: loop
steps:
  - id: again
    type: loop
    max_iterations: 3
    steps:
      - id: note
        type: append-message
        content: "pass {{ loop.index }} ({{ loop.index0 }})"
  - id: after
    type: set
    values: {count: "{{ history }}"}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before again", "before again/steps/note #1", "after again/steps/note #1",
                                  "before again/steps/note #2", "after again/steps/note #2",
                                  "before again/steps/note #3", "after again/steps/note #3",
                                  "after again iterations=3 limit_reached", "before after", "after after", "done ok"}));
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["history"].size(), 3u);
  EXPECT_EQ(traced.result.state["history"][2]["content"], "pass 3 (2)");
  EXPECT_FALSE(traced.result.state.contains("loop")) << "loop is only set inside the loop";
}

TEST_F(ControlSteps, LoopWithOnLimitFailEndsTheRunWithAnErrorNamingTheBound) {
  auto flow = Load(R"yaml(version: 1
name: loop
steps:
  - id: again
    type: loop
    max_iterations: 2
    on_limit: fail
    steps:
      - {id: note, type: append-message, content: "x"}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before again", "before again/steps/note #1", "after again/steps/note #1",
                                  "before again/steps/note #2", "after again/steps/note #2",
                                  "error again loop 'again' reached max_iterations (2)", "done failed"}));
  EXPECT_EQ(traced.result.error_step, "again");
}

TEST_F(ControlSteps, ParallelBranchesReadTheStartStateAndTheirWritesAreMerged) {
  auto flow = Load(R"yaml(version: 1
name: par
steps:
  - {id: seed, type: set, values: {topic: cats, shared: old}}
  - id: research
    type: parallel
    branches:
      summary:
        - {id: draft, type: set, values: {summary: "about {{ topic }}", shared: "from summary"}}
      keywords:
        - {id: words, type: set, values: {keywords: "saw '{{ shared }}'"}}
  - {id: merge, type: set, values: {both: "{{ summary }} / {{ keywords }} / {{ shared }}"}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  // Synchronous branches start in order and each runs to its end at once.
  EXPECT_EQ(traced.events,
            (Lines{"before seed", "after seed", "before research", "before research/branches.summary/draft",
                   "after research/branches.summary/draft", "before research/branches.keywords/words",
                   "after research/branches.keywords/words", "after research", "before merge", "after merge",
                   "done ok"}));
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  // The keywords branch saw `shared` as it was when the block started,
  // though the summary branch (which ran first) had changed it.
  EXPECT_EQ(traced.result.state["both"], "about cats / saw 'old' / from summary");
}

TEST_F(ControlSteps, HistoryIsOneKeyInTheMerge) {
  auto flow = Load(R"yaml(version: 1
name: par
steps:
  - id: both
    type: parallel
    branches:
      a: [{type: append-message, content: "from a"}]
      b: [{type: set, values: {note: "from b"}}]
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  // The branch's history (the one it started with, plus its message) is
  // merged like any key; two branches that both append are refused at load
  // (FlowChecks.ParallelBranchesThatWriteOneKeyAreAnError).
  EXPECT_EQ(traced.result.state["history"], nlohmann::json::parse(R"([{"role":"user","content":"from a"}])"));
  EXPECT_EQ(traced.result.state["note"], "from b");
}

TEST_F(ControlSteps, ParallelBranchesWaitTogetherOnTheLoop) {
  auto flow = Load(R"yaml(version: 1
name: par
steps:
  - id: both
    type: parallel
    branches:
      slow: [{id: w, type: wait, ms: 300, output: slow}]
      quick: [{id: w, type: wait, ms: 100, output: quick}]
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(traced.events, (Lines{"before both", "before both/branches.slow/w", "before both/branches.quick/w",
                                  "after both/branches.quick/w", "after both/branches.slow/w", "after both",
                                  "done ok"}));
  EXPECT_EQ(traced.result.state["slow"], "waited 300");
  EXPECT_EQ(traced.result.state["quick"], "waited 100");
  EXPECT_LT(elapsed, std::chrono::milliseconds(360 + 300)) << "the branches did not overlap";
}

TEST_F(ControlSteps, AFailingBranchStopsTheOthersAndTheBlockFails) {
  auto flow = Load(R"yaml(version: 1
name: par
steps:
  - id: both
    type: parallel
    branches:
      slow: [{id: w, type: wait, ms: 20000}]
      bad: [{id: boom, type: flaky, succeed_on: 5}]
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "the slow branch was not stopped";
  EXPECT_EQ(traced.events, (Lines{"before both", "before both/branches.slow/w", "before both/branches.bad/boom",
                                  "error both/branches.bad/boom flaky failure 1", "done failed"}));
  EXPECT_EQ(traced.result.error_step, "boom");
  EXPECT_EQ(traced.result.error_path, "both/branches.bad/boom");
}

TEST_F(ControlSteps, FailEndsTheRunWithItsRenderedMessage) {
  auto flow = Load(R"yaml(version: 1
name: f
input:
  message: string
steps:
  - {id: stop, type: fail, message: "cannot answer: {{ input.message }}"}
  - {id: never, type: append-message, content: "x"}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"message", "why?"}});
  EXPECT_EQ(traced.events, (Lines{"before stop", "error stop cannot answer: why?", "done failed"}));
  EXPECT_FALSE(traced.result.ok);
  EXPECT_EQ(traced.result.error, "cannot answer: why?");
}

TEST_F(ControlSteps, SetWritesValuesInOrderEachSeeingTheOnesBefore) {
  auto flow = Load(R"yaml(version: 1
name: s
steps:
  - id: put
    type: set
    values:
      a: one
      b: "{{ a }} two"
      n: 3
      flags: [true, "{{ b }}"]
      nested: {k: "{{ a }}"}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["b"], "one two");
  EXPECT_EQ(traced.result.state["n"], 3);
  EXPECT_EQ(traced.result.state["flags"], nlohmann::json::parse(R"([true, "one two"])"));
  EXPECT_EQ(traced.result.state["nested"], nlohmann::json::parse(R"({"k": "one"})"));
}

const char kSummarize[] = R"yaml(version: 1
name: summarize
input:
  text: {type: string, required: true}
steps:
  - id: draft
    type: set
    values: {reply: "summary of {{ input.text }}"}
)yaml";

TEST_F(ControlSteps, CallRunsAnotherFlowWithItsInputAndStoresItsStateOrOneValue) {
  auto callee = Load(kSummarize, "summarize.yaml");
  auto flow = Load(R"yaml(version: 1
name: main
steps:
  - id: whole
    type: call
    flow: summarize
    input: {text: "the doc"}
    output: summary
  - id: one
    type: call
    flow: summarize
    input: {text: "{{ summary.reply }}!"}
    output: short
    output_from: reply
)yaml");
  ASSERT_TRUE(flow && callee);
  EXPECT_EQ(flow->calls.size(), 2u);
  auto library = std::make_shared<const FlowLibrary>(std::vector<std::shared_ptr<const Flow>>{flow, callee});
  auto traced = TraceRun(*flow, nlohmann::json::object(), library);
  EXPECT_EQ(traced.events, (Lines{"before whole", "before whole/flow.summarize/draft", "after whole/flow.summarize/draft",
                                  "after whole", "before one", "before one/flow.summarize/draft",
                                  "after one/flow.summarize/draft", "after one", "done ok"}));
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["summary"]["reply"], "summary of the doc");
  EXPECT_EQ(traced.result.state["summary"]["input"], nlohmann::json::parse(R"({"text": "the doc"})"));
  EXPECT_EQ(traced.result.state["short"], "summary of summary of the doc!");
}

TEST_F(ControlSteps, CallErrorsNameTheCallAndTheProblem) {
  auto callee = Load(kSummarize, "summarize.yaml");
  auto library = std::make_shared<const FlowLibrary>(std::vector<std::shared_ptr<const Flow>>{callee});
  auto missing = Load(R"yaml(version: 1
name: main
steps:
  - {id: c, type: call, flow: sumarize, output: s}
)yaml");
  ASSERT_TRUE(missing);
  EXPECT_EQ(TraceRun(*missing, nlohmann::json::object(), library).result.error,
            "call 'c': no flow named 'sumarize' is loaded");
  auto no_input = Load(R"yaml(version: 1
name: main
steps:
  - {id: c, type: call, flow: summarize, output: s}
)yaml");
  ASSERT_TRUE(no_input);
  EXPECT_EQ(TraceRun(*no_input, nlohmann::json::object(), library).result.error,
            "call 'c': flow 'summarize': input 'text' is required");
  auto no_key = Load(R"yaml(version: 1
name: main
steps:
  - {id: c, type: call, flow: summarize, input: {text: t}, output: s, output_from: missing}
)yaml");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(TraceRun(*no_key, nlohmann::json::object(), library).result.error,
            "call 'c': flow 'summarize' left no 'missing' in its state (output_from)");
}

TEST_F(ControlSteps, ACallCycleStopsAtTheNestingLimit) {
  auto flow = Load(R"yaml(version: 1
name: self
steps:
  - {id: again, type: call, flow: self}
)yaml");
  ASSERT_TRUE(flow);
  auto library = std::make_shared<const FlowLibrary>(std::vector<std::shared_ptr<const Flow>>{flow});
  auto traced = TraceRun(*flow, nlohmann::json::object(), library);
  EXPECT_FALSE(traced.result.ok);
  EXPECT_EQ(traced.result.error, "call 'again': calls nest more than 16 deep (the limit of nested calls per run)");
  std::string deepest = "again";
  for (int i = 0; i < 16; ++i) deepest += "/flow.self/again";
  EXPECT_EQ(traced.result.error_path, deepest);
}

TEST_F(ControlSteps, AFlowThatRunsTooManyStepsFailsWithTheLimitNamed) {
  auto flow = Load(R"yaml(version: 1
name: many
steps:
  - id: spin
    type: loop
    max_iterations: 100000
    steps:
      - {id: tick, type: set, values: {x: 1}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_FALSE(traced.result.ok);
  EXPECT_EQ(traced.result.error, "the run went past 1000 steps (the limit of steps per run)");
  EXPECT_EQ(traced.result.error_path, "spin/steps/tick");
  // The loop step itself is the first of the 1000; its 999 ticks follow.
  EXPECT_EQ(traced.raw[traced.raw.size() - 2].iteration, 1000);
  auto limited = TraceRun(*flow, nlohmann::json::object(), nullptr, 5);
  EXPECT_EQ(limited.result.error, "the run went past 5 steps (the limit of steps per run)");
}

}  // namespace
}  // namespace flowrun
