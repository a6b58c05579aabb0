// The runner's fast paths against its slow one: steps that never wait
// (FlowStep::direct) run as plain calls, and a run whose consumer drops
// step events builds none. Each test runs the same flow both ways and
// compares everything the run produces (events with every field but the
// duration, the final state, the error), on inputs that take each branch,
// fail, hit the step limit or lose their consumer inside a nested block.
#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "flow/flow_test_support.h"

namespace flowrun {
namespace {

using testing::Describe;
using testing::FakeEnvironment;
using testing::FakeLlmClient;
using testing::LoadOrFail;
using testing::TestRegistry;
using Lines = std::vector<std::string>;

struct Options {
  bool direct = true;
  bool step_events = true;
  int max_steps = kMaxStepsPerRun;
  std::function<bool(const Event&)> keep_going;  // the sink's answer (default: true)
};

struct RunTrace {
  Lines events;  // Describe() of each
  Lines fields;  // every field of each event but duration_ms
  RunResult result;
};

std::string Fields(const Event& event) {
  nlohmann::json fields = {{"type", static_cast<int>(event.type)},
                           {"step", event.step},
                           {"step_type", event.step_type},
                           {"path", event.path},
                           {"index", event.index},
                           {"iteration", event.iteration},
                           {"text", event.text},
                           {"ok", event.ok},
                           {"branch", event.branch},
                           {"iterations", event.iterations},
                           {"limit_reached", event.limit_reached},
                           {"skipped", event.skipped},
                           {"handled_error", event.handled_error},
                           {"attempts", event.attempts},
                           {"has_usage", event.has_usage},
                           {"prompt_tokens", event.prompt_tokens},
                           {"completion_tokens", event.completion_tokens}};
  return fields.dump();
}

// Runs `flow` with RunFlowAsync on a loop of this thread, as a server's run
// loop does, with the paths chosen by `options`; fails the test (and stops)
// when the run has not ended within 10 s.
RunTrace RunWith(const Flow& flow, const nlohmann::json& input, const Options& options) {
  RunTrace run;
  EventLoop loop;
  EXPECT_TRUE(loop.Init().ok());
  CancelScope scope;
  EventSink sink = [&run, &options](const Event& event) {
    run.events.push_back(Describe(event));
    run.fields.push_back(Fields(event));
    return options.keep_going ? options.keep_going(event) : true;
  };
  RunEnvironment env{loop, scope, nullptr, nullptr, nullptr, nullptr, options.max_steps};
  env.direct_steps = options.direct;
  env.step_events = options.step_events;
  bool finished = false;
  loop.Post([&] {
    StartTask(RunFlowAsync(flow, input, sink, env), [&](std::optional<RunResult> result, std::exception_ptr error) {
      EXPECT_FALSE(error) << "the run threw";
      if (result) run.result = std::move(*result);
      finished = true;
      loop.Stop();
    });
  });
  const EventLoop::TimerId deadline = loop.After(std::chrono::seconds(10), [&] { loop.Stop(); });
  loop.Run();
  loop.CancelTimer(deadline);
  EXPECT_TRUE(finished) << "the run did not end within 10 s";
  return run;
}

// The direct path and the task path give the same run; returns the direct one.
RunTrace RunBothWays(const Flow& flow, const nlohmann::json& input, Options options = {}) {
  options.direct = false;
  const RunTrace tasks = RunWith(flow, input, options);
  options.direct = true;
  RunTrace direct = RunWith(flow, input, options);
  EXPECT_EQ(direct.fields, tasks.fields) << "input " << input.dump();
  EXPECT_EQ(direct.result.ok, tasks.result.ok);
  EXPECT_EQ(direct.result.error, tasks.result.error);
  EXPECT_EQ(direct.result.error_step, tasks.result.error_step);
  EXPECT_EQ(direct.result.error_path, tasks.result.error_path);
  EXPECT_EQ(direct.result.state, tasks.result.state);
  return direct;
}

// set, if, switch and fail, nested three deep, with `if:` and `on_error: continue`.
const char* kDecisions = R"(
version: 1
name: decisions
input:
  kind: {type: string, required: true}
steps:
  - id: start
    type: set
    values:
      count: 0
      words: "{{ input.kind | split | length }}"
      label: "{{ input.kind | upper }}"
      flags: ["{{ input.kind }}", 1, true]
  - id: pick
    type: switch
    on: input.kind | split | first | default('none')
    cases:
      a:
        - {id: in_a, type: set, values: {count: "{{ count + 1 }}"}}
        - id: deeper
          type: if
          when: count > 0
          then:
            - {id: noted, type: set, values: {note: "a {{ count }} of {{ words }}"}}
            - {id: skipped, type: set, if: "count > 5", values: {note: never}}
      b:
        - {id: broken, type: fail, message: "b failed at {{ count }}", on_error: continue}
        - {id: after_b, type: set, values: {note: "b went on"}}
      c:
        - {id: failing, type: fail, message: "c fails: {{ label }}"}
      number:
        - {id: convert, type: set, values: {n: "{{ input.kind | int }}"}}
    default:
      - {id: other, type: set, values: {note: "other {{ label | lower }}"}}
  - id: strict
    type: switch
    on: label | lower
    cases:
      a: [{id: strict_a, type: set, values: {strict: true}}]
      a b: [{id: strict_ab, type: set, values: {strict: true}}]
      b: [{id: strict_b, type: set, values: {strict: true}}]
      x: [{id: strict_x, type: set, values: {strict: true}}]
)";

class DirectSteps : public ::testing::Test {
 protected:
  std::shared_ptr<const Flow> Load(const std::string& yaml) { return LoadOrFail(yaml, registry_, environment_); }
  std::shared_ptr<FakeLlmClient> client_ = std::make_shared<FakeLlmClient>();
  StepRegistry registry_ = TestRegistry();
  StepEnvironment environment_ = FakeEnvironment(client_);
};

TEST_F(DirectSteps, StepsThatNeverWaitAreMarkedDirect) {
  auto flow = Load(R"(
version: 1
name: marks
steps:
  - {id: plain, type: set, values: {a: 1}}
  - {id: guarded, type: set, if: "a == 1", values: {b: 1}, on_error: continue}
  - {id: timed, type: set, values: {c: 1}, timeout_ms: 1000}
  - {id: retried, type: set, values: {d: 1}, retry: {max_attempts: 2}}
  - id: handled
    type: set
    values: {e: 1}
    on_error: [{id: fallback, type: set, values: {f: 1}}]
  - id: decides
    type: if
    when: a == 1
    then: [{id: inner, type: set, values: {g: 1}}]
  - id: waits
    type: if
    when: a == 1
    then: [{id: sleeper, type: wait, ms: 1}]
  - id: repeats
    type: loop
    max_iterations: 2
    steps: [{id: looped, type: set, values: {h: 1}}]
  - {id: leaf, type: append-message, role: user, content: hi}
)");
  ASSERT_NE(flow, nullptr);
  std::vector<std::pair<std::string, bool>> marks;
  for (const FlowStep& step : flow->steps) marks.emplace_back(step.id, step.direct);
  EXPECT_EQ(marks, (std::vector<std::pair<std::string, bool>>{{"plain", true},
                                                               {"guarded", true},
                                                               {"timed", false},
                                                               {"retried", false},
                                                               {"handled", false},
                                                               {"decides", true},
                                                               {"waits", false},
                                                               {"repeats", false},
                                                               {"leaf", false}}));
  EXPECT_TRUE(flow->steps[5].blocks[0].steps[0].direct);  // inner
  EXPECT_TRUE(flow->steps[7].blocks[0].steps[0].direct);  // looped: direct inside a task
}

TEST_F(DirectSteps, EveryBranchGivesTheSameEventsAndStateEitherWay) {
  auto flow = Load(kDecisions);
  ASSERT_NE(flow, nullptr);
  const RunTrace a = RunBothWays(*flow, {{"kind", "a"}});
  ASSERT_TRUE(a.result.ok) << a.result.error;
  EXPECT_EQ(a.events, (Lines{"before start", "after start", "before pick", "before pick/cases.a/in_a",
                             "after pick/cases.a/in_a", "before pick/cases.a/deeper",
                             "before pick/cases.a/deeper/then/noted", "after pick/cases.a/deeper/then/noted",
                             "before pick/cases.a/deeper/then/skipped",
                             "after pick/cases.a/deeper/then/skipped skipped", "after pick/cases.a/deeper branch=then",
                             "after pick branch=a", "before strict", "before strict/cases.a/strict_a",
                             "after strict/cases.a/strict_a", "after strict branch=a", "done ok"}));
  EXPECT_EQ(a.result.state["note"], "a 1 of 1");
  EXPECT_EQ(a.result.state["flags"], nlohmann::json::array({"a", 1, true}));

  const RunTrace b = RunBothWays(*flow, {{"kind", "b"}});
  ASSERT_TRUE(b.result.ok) << b.result.error;
  EXPECT_EQ(b.result.state["note"], "b went on");
  EXPECT_EQ(b.events[3], "before pick/cases.b/broken");
  EXPECT_EQ(b.events[4], "after pick/cases.b/broken error=b failed at 0");

  const RunTrace ab = RunBothWays(*flow, {{"kind", "a b"}});  // the switch on the first word
  ASSERT_TRUE(ab.result.ok) << ab.result.error;
  EXPECT_EQ(ab.result.state["note"], "a 1 of 2");
  EXPECT_EQ(ab.result.state["strict"], true);

  const RunTrace x = RunBothWays(*flow, {{"kind", "x"}});
  ASSERT_TRUE(x.result.ok) << x.result.error;
  EXPECT_EQ(x.result.state["note"], "other x");
}

TEST_F(DirectSteps, FailuresInsideNestedBlocksAreTheSameEitherWay) {
  auto flow = Load(kDecisions);
  ASSERT_NE(flow, nullptr);
  const RunTrace c = RunBothWays(*flow, {{"kind", "c"}});
  EXPECT_FALSE(c.result.ok);
  EXPECT_EQ(c.result.error, "c fails: C");
  EXPECT_EQ(c.result.error_path, "pick/cases.c/failing");
  EXPECT_EQ(c.events.back(), "done failed");
  EXPECT_EQ(c.events[c.events.size() - 2], "error pick/cases.c/failing c fails: C");

  const RunTrace number = RunBothWays(*flow, {{"kind", "number"}});
  EXPECT_FALSE(number.result.ok);
  EXPECT_EQ(number.result.error, "in 'n': int() cannot convert 'number' to an integer");
  EXPECT_EQ(number.result.error_step, "convert");

  const RunTrace unmatched = RunBothWays(*flow, {{"kind", "zzz"}});  // no case of `strict` is "zzz"
  EXPECT_FALSE(unmatched.result.ok);
  EXPECT_EQ(unmatched.result.error, "switch 'strict': no case for value \"zzz\"");
  EXPECT_EQ(unmatched.result.state["note"], "other zzz");
}

TEST_F(DirectSteps, TheStepLimitStopsANestedDirectBlockTheSameWay) {
  auto flow = Load(kDecisions);
  ASSERT_NE(flow, nullptr);
  Options options;
  options.max_steps = 4;  // start, pick, in_a, deeper: noted is the fifth
  const RunTrace run = RunBothWays(*flow, {{"kind", "a"}}, options);
  EXPECT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error, "the run went past 4 steps (the limit of steps per run)");
  EXPECT_EQ(run.result.error_path, "pick/cases.a/deeper/then/noted");
}

TEST_F(DirectSteps, AConsumerGoneInsideANestedBlockStopsTheRunTheSameWay) {
  auto flow = Load(kDecisions);
  ASSERT_NE(flow, nullptr);
  Options options;
  options.keep_going = [](const Event& event) {
    return !(event.type == Event::Type::kStepBefore && event.path == "pick/cases.a/deeper");
  };
  const RunTrace run = RunBothWays(*flow, {{"kind", "a"}}, options);
  EXPECT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error, "client disconnected");
  EXPECT_EQ(run.result.error_path, "pick/cases.a/deeper/then/noted");
  EXPECT_EQ(run.events, (Lines{"before start", "after start", "before pick", "before pick/cases.a/in_a",
                               "after pick/cases.a/in_a", "before pick/cases.a/deeper",
                               "error pick/cases.a/deeper/then/noted client disconnected", "done failed"}));
  EXPECT_FALSE(run.result.state.contains("note"));
}

TEST_F(DirectSteps, DirectStepsAroundAStepThatWaitsRunInOrder) {
  auto flow = Load(R"(
version: 1
name: around
steps:
  - {id: first, type: set, values: {n: 1}}
  - id: outer
    type: if
    when: n == 1
    then:
      - {id: before_wait, type: set, values: {n: "{{ n + 1 }}"}}
      - {id: sleeper, type: wait, ms: 20, output: slept}
      - id: inner
        type: switch
        on: slept
        cases:
          "waited 20": [{id: after_wait, type: set, values: {n: "{{ n * 10 }}"}}]
  - {id: last, type: set, values: {done: "{{ n }} {{ slept }}"}}
)");
  ASSERT_NE(flow, nullptr);
  EXPECT_FALSE(flow->steps[1].direct);
  const RunTrace run = RunBothWays(*flow, nlohmann::json::object());
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["done"], "20 waited 20");
  EXPECT_EQ(run.events, (Lines{"before first", "after first", "before outer", "before outer/then/before_wait",
                               "after outer/then/before_wait", "before outer/then/sleeper",
                               "after outer/then/sleeper", "before outer/then/inner",
                               "before outer/then/inner/cases.waited 20/after_wait",
                               "after outer/then/inner/cases.waited 20/after_wait",
                               "after outer/then/inner branch=waited 20", "after outer branch=then", "before last",
                               "after last", "done ok"}));
}

TEST_F(DirectSteps, WithoutStepEventsTheRunIsTheSameLessItsStepEvents) {
  auto flow = Load(R"(
version: 1
name: quiet
input:
  kind: {type: string, required: true}
steps:
  - {id: user, type: append-message, role: user, content: "{{ input.kind }}"}
  - id: pick
    type: if
    when: input.kind == "fail"
    then: [{id: failing, type: fail, message: "asked to fail"}]
    else: [{id: noted, type: set, values: {note: "{{ input.kind | upper }}"}}]
  - {id: reply, type: llm-stream}
  - {id: sleeper, type: wait, ms: 1, timeout_ms: 5000}
  - {id: after, type: set, values: {seen: "{{ reply }}"}}
)");
  ASSERT_NE(flow, nullptr);
  client_->deltas = {"Hel", "lo"};
  for (const char* kind : {"go", "fail"}) {
    for (const bool direct : {false, true}) {
      Options loud;
      loud.direct = direct;
      Options quiet = loud;
      quiet.step_events = false;
      const RunTrace all = RunWith(*flow, {{"kind", kind}}, loud);
      const RunTrace some = RunWith(*flow, {{"kind", kind}}, quiet);
      Lines expected;
      for (size_t i = 0; i < all.events.size(); ++i) {
        if (all.events[i].rfind("before ", 0) != 0 && all.events[i].rfind("after ", 0) != 0) {
          expected.push_back(all.fields[i]);
        }
      }
      EXPECT_EQ(some.fields, expected) << kind << (direct ? " direct" : " tasks");
      EXPECT_EQ(some.result.ok, all.result.ok);
      EXPECT_EQ(some.result.error, all.result.error);
      EXPECT_EQ(some.result.state, all.result.state);
    }
  }
  const RunTrace go = RunWith(*flow, {{"kind", "go"}}, Options{true, false, kMaxStepsPerRun, nullptr});
  EXPECT_EQ(go.events, (Lines{"chunk reply Hel", "chunk reply lo", "done ok"}));
  EXPECT_EQ(go.result.state["seen"], "Hello");
  EXPECT_EQ(go.result.state["note"], "GO");
  const RunTrace fail = RunWith(*flow, {{"kind", "fail"}}, Options{true, false, kMaxStepsPerRun, nullptr});
  EXPECT_EQ(fail.events, (Lines{"error pick/then/failing asked to fail", "done failed"}));
}

}  // namespace
}  // namespace flowrun
