// Control steps that decide (if, switch, loop until, map, the `if:` of any
// step) and typed values in `set`, with exact event traces; the event
// order of nested blocks.
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

class Conditions : public ::testing::Test {
 protected:
  std::shared_ptr<const Flow> Load(const std::string& yaml) { return LoadOrFail(yaml, registry_, environment_); }
  std::shared_ptr<FakeLlmClient> client_ = std::make_shared<FakeLlmClient>();
  StepRegistry registry_ = TestRegistry();
  StepEnvironment environment_ = FakeEnvironment(client_);
};

const char kRouter[] = R"yaml(version: 1
name: router
input:
  category: string
steps:
  - id: route
    type: switch
    on: input.category | trim | lower
    cases:
      billing: [{id: pay, type: set, values: {answer: "billing desk"}}]
      tech: [{id: fix, type: set, values: {answer: "tech desk"}}]
    default: [{id: other, type: set, values: {answer: "front desk"}}]
  - id: check
    type: if
    when: answer == "tech desk"
    then: [{id: yes, type: set, values: {tech: true}}]
    else: [{id: no, type: set, values: {tech: false}}]
  - id: maybe
    type: if
    when: tech
    then: [{id: note, type: set, values: {noted: true}}]
)yaml";

TEST_F(Conditions, SwitchAndIfTakeTheirBranchAndSaySoInStepAfter) {
  auto flow = Load(kRouter);
  ASSERT_TRUE(flow);
  auto tech = TraceRun(*flow, {{"category", " TECH "}});
  EXPECT_EQ(tech.events, (Lines{"before route", "before route/cases.tech/fix", "after route/cases.tech/fix",
                                "after route branch=tech", "before check", "before check/then/yes",
                                "after check/then/yes", "after check branch=then", "before maybe",
                                "before maybe/then/note", "after maybe/then/note", "after maybe branch=then",
                                "done ok"}));
  EXPECT_EQ(tech.result.state["tech"], true) << "a `set` value that is one {{ expr }} keeps its type";
  auto other = TraceRun(*flow, {{"category", "refund"}});
  EXPECT_EQ(other.events, (Lines{"before route", "before route/default/other", "after route/default/other",
                                 "after route branch=default", "before check", "before check/else/no",
                                 "after check/else/no", "after check branch=else", "before maybe",
                                 "after maybe branch=none", "done ok"}));
  EXPECT_EQ(other.result.state["answer"], "front desk");
  EXPECT_EQ(nlohmann::json::parse(EventToJson(other.raw[3]).dump())["branch"], "default");
}

TEST_F(Conditions, ASwitchWithoutDefaultFailsOnAnUnmatchedValue) {
  auto flow = Load(R"yaml(version: 1
name: s
input:
  category: string
steps:
  - id: route
    type: switch
    on: input.category
    cases:
      billing: [{type: set, values: {x: 1}}]
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"category", "re\"fund"}});
  EXPECT_EQ(traced.events, (Lines{"before route", "error route switch 'route': no case for value \"re\\\"fund\"",
                                  "done failed"}));
}

TEST_F(Conditions, AStepsIfSkipsItUnlessItHolds) {
  auto flow = Load(R"yaml(version: 1
name: s
input:
  n: number
steps:
  - {id: big, type: set, if: input.n > 10, values: {size: big}}
  - {id: small, type: set, if: "not (input.n > 10)", values: {size: small}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"n", 3}});
  EXPECT_EQ(traced.events, (Lines{"before big", "after big skipped", "before small", "after small", "done ok"}));
  EXPECT_EQ(traced.result.state["size"], "small");
  EXPECT_EQ(EventToJson(traced.raw[1])["skipped"], true);
}

TEST_F(Conditions, AConditionThatCannotBeEvaluatedIsTheStepsError) {
  auto flow = Load(R"yaml(version: 1
name: s
input:
  meta: object
steps:
  - {id: look, type: set, if: input.meta.lang == "en", values: {x: 1}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"meta", nlohmann::json::object()}});
  EXPECT_EQ(traced.events, (Lines{"before look", "error look in 'if': 'input.meta.lang' is not set", "done failed"}));
}

TEST_F(Conditions, LoopStopsAsSoonAsUntilHolds) {
  auto flow = Load(R"yaml(version: 1
name: l
steps:
  - {id: init, type: set, values: {n: 0}}
  - id: count
    type: loop
    max_iterations: 5
    until: n >= 2
    steps:
      - {id: inc, type: set, values: {n: "{{ n + 1 }}", seen: "{{ loop.index }}/{{ loop.index0 }}"}}
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow);
  EXPECT_EQ(traced.events, (Lines{"before init", "after init", "before count", "before count/steps/inc #1",
                                  "after count/steps/inc #1", "before count/steps/inc #2", "after count/steps/inc #2",
                                  "after count iterations=2", "done ok"}));
  EXPECT_EQ(traced.result.state["n"], 2) << "n stayed a number";
  EXPECT_EQ(traced.result.state["seen"], "2/1");
}

TEST_F(Conditions, SetKeepsTheTypeOfASingleExpressionAndRendersAnythingElse) {
  auto flow = Load(R"yaml(version: 1
name: s
input:
  docs: array
steps:
  - id: put
    type: set
    values:
      items: "{{ input.docs }}"
      count: "{{ input.docs | length }}"
      text: "{{ input.docs | length }} docs"
      first: "{{ input.docs[0].title | upper }}"
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"docs", nlohmann::json::parse(R"([{"title": "a"}, {"title": "b"}])")}});
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["items"], nlohmann::json::parse(R"([{"title": "a"}, {"title": "b"}])"));
  EXPECT_EQ(traced.result.state["count"], 2);
  EXPECT_EQ(traced.result.state["text"], "2 docs");
  EXPECT_EQ(traced.result.state["first"], "A");
}

const char kMap[] = R"yaml(version: 1
name: m
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    as: doc
    concurrency: 1
    steps:
      - {id: sum, type: set, values: {summary: "{{ loop.index }}:{{ doc | upper }}", scratch: "{{ doc }}"}}
    collect: summary
    output: summaries
)yaml";

TEST_F(Conditions, MapRunsItsStepsPerItemInItsOwnScopeAndCollectsInInputOrder) {
  auto flow = Load(kMap);
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"docs", {"a", "b", "c"}}});
  EXPECT_EQ(traced.events, (Lines{"before each", "before each/steps/sum #1", "after each/steps/sum #1",
                                  "before each/steps/sum #2", "after each/steps/sum #2", "before each/steps/sum #3",
                                  "after each/steps/sum #3", "after each iterations=3", "done ok"}));
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["summaries"], nlohmann::json::parse(R"(["1:A", "2:B", "3:C"])"));
  EXPECT_FALSE(traced.result.state.contains("scratch")) << "an item's writes stay in its scope";
  EXPECT_FALSE(traced.result.state.contains("doc"));
}

TEST_F(Conditions, MapItemsRunConcurrentlyUpToItsConcurrency) {
  auto flow = Load(R"yaml(version: 1
name: m
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    concurrency: 4
    steps:
      - {id: w, type: wait, ms: 200}
      - {id: s, type: set, values: {out: "{{ item }}"}}
    collect: out
    output: outs
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow, {{"docs", {1, 2, 3, 4, 5, 6, 7, 8}}});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  EXPECT_EQ(traced.result.state["outs"], nlohmann::json::parse("[1, 2, 3, 4, 5, 6, 7, 8]"));
  // Two rounds of four: about 400 ms (not 200: bounded; not 1600: concurrent).
  EXPECT_GE(elapsed, std::chrono::milliseconds(390));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
  // The first four started together, before any ended.
  EXPECT_EQ(Lines(traced.events.begin() + 1, traced.events.begin() + 5),
            (Lines{"before each/steps/w #1", "before each/steps/w #2", "before each/steps/w #3",
                   "before each/steps/w #4"}));
}

TEST_F(Conditions, MapOverSomethingElseThanAListIsAnError) {
  auto flow = Load(kMap);
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"docs", nlohmann::json::array()}});
  EXPECT_EQ(traced.events, (Lines{"before each", "after each iterations=0", "done ok"}));
  EXPECT_EQ(traced.result.state["summaries"], nlohmann::json::array());
  auto scalar = Load(R"yaml(version: 1
name: m
input:
  text: string
steps:
  - {id: each, type: map, over: input.text, steps: [{type: set, values: {x: 1}}]}
)yaml");
  ASSERT_TRUE(scalar);
  EXPECT_EQ(TraceRun(*scalar, {{"text", "abc"}}).result.error, "map 'each': 'over' is a string, not a list");
}

TEST_F(Conditions, AFailingItemStopsTheMap) {
  auto flow = Load(R"yaml(version: 1
name: m
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    concurrency: 2
    steps:
      - {id: slow, type: wait, ms: 20000, if: item != 2}
      - {id: stop, type: fail, message: "item {{ item }} is bad", if: item == 2}
)yaml");
  ASSERT_TRUE(flow);
  const auto start = std::chrono::steady_clock::now();
  auto traced = TraceRun(*flow, {{"docs", {1, 2, 3, 4}}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(traced.events, (Lines{"before each", "before each/steps/slow #1", "before each/steps/slow #2",
                                  "after each/steps/slow #2 skipped", "before each/steps/stop #2",
                                  "error each/steps/stop item 2 is bad", "done failed"}));
  EXPECT_EQ(traced.raw[traced.raw.size() - 2].iteration, 2);
}

// Every kind of block inside another, in one run: the exact order of
// before/after events, paths and iterations.
TEST_F(Conditions, NestedBlocksEmitEventsInOrderWithPathsAndIterations) {
  auto flow = Load(R"yaml(version: 1
name: nested
input:
  docs: array
steps:
  - id: each
    type: map
    over: input.docs
    steps:
      - id: check
        type: if
        when: item > 1
        then:
          - id: twice
            type: loop
            max_iterations: 2
            steps:
              - id: kind
                type: switch
                on: loop.index
                cases:
                  "1": [{id: one, type: set, values: {k: 1}}]
                default: [{id: more, type: set, values: {k: 2}}]
  - id: both
    type: parallel
    branches:
      a: [{id: x, type: set, values: {a: 1}}]
      b: [{id: y, type: set, values: {b: 1}, on_error: continue}]
)yaml");
  ASSERT_TRUE(flow);
  auto traced = TraceRun(*flow, {{"docs", {1, 2}}});
  EXPECT_EQ(traced.events,
            (Lines{"before each",
                   "before each/steps/check #1",
                   "after each/steps/check #1 branch=none",
                   "before each/steps/check #2",
                   "before each/steps/check/then/twice #2",
                   "before each/steps/check/then/twice/steps/kind #1",
                   "before each/steps/check/then/twice/steps/kind/cases.1/one #1",
                   "after each/steps/check/then/twice/steps/kind/cases.1/one #1",
                   "after each/steps/check/then/twice/steps/kind #1 branch=1",
                   "before each/steps/check/then/twice/steps/kind #2",
                   "before each/steps/check/then/twice/steps/kind/default/more #2",
                   "after each/steps/check/then/twice/steps/kind/default/more #2",
                   "after each/steps/check/then/twice/steps/kind #2 branch=default",
                   "after each/steps/check/then/twice #2 iterations=2 limit_reached",
                   "after each/steps/check #2 branch=then",
                   "after each iterations=2",
                   "before both",
                   "before both/branches.a/x",
                   "after both/branches.a/x",
                   "before both/branches.b/y",
                   "after both/branches.b/y",
                   "after both",
                   "done ok"}));
}

}  // namespace
}  // namespace flowrun
