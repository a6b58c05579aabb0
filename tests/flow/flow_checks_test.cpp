// The checks before running (flow_checks, call_checks): reads that some
// path leaves unset, parallel branches that write one key or stream at
// once, steps after an unconditional fail, and calls that go nowhere or
// come back; each with its exact text, line and column, and whether it is a
// warning (the flow loads) or an error (it does not).
#include <gtest/gtest.h>

#include "flow/call_checks.h"
#include "flow/flow_library.h"
#include "flow/flow_test_support.h"

namespace flowrun {
namespace {

using testing::FakeEnvironment;
using testing::FakeLlmClient;
using testing::TestRegistry;

struct Checked {
  bool loads = false;
  std::string text;
};

Checked Check(const std::string& yaml, const std::string& file = "flows/x.yaml") {
  LoadResult result = LoadFlowFromString(yaml, file, TestRegistry(), FakeEnvironment(std::make_shared<FakeLlmClient>()));
  return {result.flow != nullptr, result.diagnostics.ToString()};
}

TEST(FlowChecks, AKeySetInOnlyOneBranchOfAnIfIsAWarningUnlessTheReadHasADefault) {
  const Checked checked = Check(R"yaml(version: 1
name: x
input:
  vip: boolean
steps:
  - type: if
    when: input.vip
    then: [{type: set, values: {greeting: "Welcome back"}}]
  - type: set
    values: {a: "{{ greeting }}", b: "{{ greeting | default('Hello') }}", c: "{{ greeting is defined }}"}
)yaml");
  EXPECT_TRUE(checked.loads);
  EXPECT_EQ(checked.text,
            "flows/x.yaml:10:21: warning: 'greeting' may not be set here: not every path to this step sets it (write 'greeting | default(...)' if that is expected)\n"
            "        values: {a: \"{{ greeting }}\", b: \"{{ greeting | default('Hello') }}\", c: \"{{ greeting is defined }}\"}\n"
            "                        ^~~~~~~~\n");
}

TEST(FlowChecks, KeysSetOnEveryPathAreNotWarnedAbout) {
  const Checked checked = Check(R"yaml(version: 1
name: x
input:
  category: string
steps:
  - type: if
    when: input.category == "a"
    then: [{type: set, values: {route: a}}]
    else: [{type: set, values: {route: b}}]
  - type: switch
    on: route
    cases:
      a: [{type: set, values: {label: first}}]
      b: [{type: set, values: {label: second}}]
  - type: loop
    max_iterations: 2
    until: done
    steps: [{type: set, values: {done: "{{ loop.index == 2 }}"}}]
  - type: if
    when: input.category == "stop"
    then: [{type: fail, message: "stopped"}]
    else: [{type: set, values: {verdict: go}}]
  - type: append-message
    content: "{{ route }} {{ label }} {{ done }} {{ verdict }}"
)yaml");
  EXPECT_TRUE(checked.loads);
  EXPECT_EQ(checked.text, "") << "a switch without default goes on only from its cases; a branch that fails adds nothing";
}

TEST(FlowChecks, AStepWithItsOwnIfOrOnErrorContinueMayNotHaveWritten) {
  const Checked checked = Check(R"yaml(version: 1
name: x
input:
  ask: boolean
steps:
  - {id: maybe, type: llm-stream, if: input.ask, output: answer}
  - {id: tolerant, type: llm-stream, on_error: continue, output: other}
  - {type: append-message, content: "{{ answer }} {{ other }}"}
  - {type: append-reply, from: answer}
)yaml");
  EXPECT_TRUE(checked.loads);
  EXPECT_EQ(checked.text,
            "flows/x.yaml:8:41: warning: 'answer' may not be set here: not every path to this step sets it (write 'answer | default(...)' if that is expected)\n"
            "      - {type: append-message, content: \"{{ answer }} {{ other }}\"}\n"
            "                                            ^~~~~~\n"
            "flows/x.yaml:8:54: warning: 'other' may not be set here: not every path to this step sets it (write 'other | default(...)' if that is expected)\n"
            "      - {type: append-message, content: \"{{ answer }} {{ other }}\"}\n"
            "                                                         ^~~~~\n"
            "flows/x.yaml:9:32: warning: 'answer' may not be set here: not every path to this step sets it\n"
            "      - {type: append-reply, from: answer}\n"
            "                                   ^~~~~~\n");
}

TEST(FlowChecks, ParallelBranchesThatWriteOneKeyAreAnError) {
  const Checked checked = Check(R"yaml(version: 1
name: x
steps:
  - id: research
    type: parallel
    branches:
      summary:
        - {type: llm-stream, stream: false, output: notes}
      keywords:
        - {type: set, values: {notes: "k"}}
      chat:
        - {type: append-message, content: "one"}
      more_chat:
        - {type: append-message, content: "two"}
)yaml");
  EXPECT_FALSE(checked.loads);
  EXPECT_EQ(checked.text,
            "flows/x.yaml:10:32: error: branches 'summary' and 'keywords' of parallel 'research' both write 'notes'; branches run at once, so give each its own keys\n"
            "            - {type: set, values: {notes: \"k\"}}\n"
            "                                   ^~~~~\n"
            "flows/x.yaml:14:18: error: branches 'chat' and 'more_chat' of parallel 'research' both write 'history'; branches run at once, so give each its own keys\n"
            "            - {type: append-message, content: \"two\"}\n"
            "                     ^~~~~~~~~~~~~~\n");
}

TEST(FlowChecks, TwoBranchesThatStreamAreAnErrorUnlessTheBlockInterleaves) {
  const std::string flow = R"yaml(version: 1
name: x
steps:
  - id: both
    type: parallel%s
    branches:
      a: [{type: llm-stream, output: first}]
      b: [{type: llm-stream, output: second}]
      c: [{type: llm-stream, stream: false, output: third}]
)yaml";
  auto with = [&](const std::string& extra) {
    std::string text = flow;
    text.replace(text.find("%s"), 2, extra);
    return text;
  };
  const Checked refused = Check(with(""));
  EXPECT_FALSE(refused.loads);
  EXPECT_EQ(refused.text,
            "flows/x.yaml:8:18: error: branches 'a' and 'b' of parallel 'both' both stream to the client; give all but one 'stream: false', or the parallel step 'stream: interleave'\n"
            "          b: [{type: llm-stream, output: second}]\n"
            "                     ^~~~~~~~~~\n");
  const Checked interleaved = Check(with("\n    stream: interleave"));
  EXPECT_TRUE(interleaved.loads) << interleaved.text;
  EXPECT_EQ(interleaved.text, "");
}

TEST(FlowChecks, AMapWhoseItemsStreamAtOnceIsAWarning) {
  const Checked checked = Check(R"yaml(version: 1
name: x
input:
  docs: {type: array}
steps:
  - id: each
    type: map
    over: input.docs
    concurrency: 4
    steps: [{type: llm-stream, output: summary}]
    collect: summary
    output: summaries
  - {type: append-message, content: "{{ summaries | join(', ') }}"}
)yaml");
  EXPECT_TRUE(checked.loads);
  EXPECT_EQ(checked.text,
            "flows/x.yaml:10:20: warning: the items of map 'each' run 4 at once, so their streamed text interleaves; use concurrency: 1, or stream: false on the step\n"
            "        steps: [{type: llm-stream, output: summary}]\n"
            "                       ^~~~~~~~~~\n");
}

TEST(FlowChecks, StepsAfterAnUnconditionalFailCanNeverRun) {
  const Checked checked = Check(R"yaml(version: 1
name: x
steps:
  - {id: stop, type: fail, message: "no"}
  - {id: never, type: append-message, content: "unreachable"}
  - {id: nor_this, type: append-message, content: "unreachable"}
)yaml");
  EXPECT_TRUE(checked.loads);
  EXPECT_EQ(checked.text,
            "flows/x.yaml:5:23: warning: step 'never' can never run: step 'stop' before it always fails\n"
            "      - {id: never, type: append-message, content: \"unreachable\"}\n"
            "                          ^~~~~~~~~~~~~~\n");
  EXPECT_EQ(Check(R"yaml(version: 1
name: x
input:
  stop: boolean
steps:
  - {type: fail, if: input.stop, message: "no"}
  - {type: append-message, content: "reachable"}
)yaml")
                .text,
            "");
}

TEST(FlowChecks, ALoopsUntilSeesWhatItsBodySetAndTheBodySeesOnlyWhatCameBefore) {
  const Checked checked = Check(R"yaml(version: 1
name: x
steps:
  - type: loop
    max_iterations: 3
    until: review.ok
    steps:
      - {type: append-message, content: "{{ review.feedback }}"}
      - {type: set, values: {review: {ok: true, feedback: fine}}}
)yaml");
  EXPECT_TRUE(checked.loads);
  EXPECT_EQ(checked.text,
            "flows/x.yaml:8:45: warning: 'review' may not be set here: not every path to this step sets it (write 'review | default(...)' if that is expected)\n"
            "          - {type: append-message, content: \"{{ review.feedback }}\"}\n"
            "                                                ^~~~~~\n");
}

std::shared_ptr<const Flow> Loaded(const std::string& yaml, const std::string& file) {
  return testing::LoadOrFail(yaml, TestRegistry(), FakeEnvironment(std::make_shared<FakeLlmClient>()), file);
}

TEST(CallChecks, ACallToAFlowThatIsNotBesideItIsAnErrorWithDidYouMean) {
  auto caller = Loaded(R"yaml(version: 1
name: chat
steps:
  - {id: sum, type: call, flow: summarise, output: summary}
)yaml",
                       "flows/chat.yaml");
  auto callee = Loaded("version: 1\nname: summarize\nsteps:\n  - {type: append-message, content: hi}\n",
                       "flows/summarize.yaml");
  ASSERT_TRUE(caller && callee);
  const auto problems = CheckCalls(*caller, FlowLibrary({caller, callee}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(problems[0].error);
  EXPECT_EQ(problems[0].text,
            "flows/chat.yaml:4:33: error: call 'sum': no flow named 'summarise' is loaded beside this one; did you mean 'summarize'?\n"
            "      - {id: sum, type: call, flow: summarise, output: summary}\n"
            "                                    ^~~~~~~~~\n");
  EXPECT_TRUE(CheckCalls(*callee, FlowLibrary({caller, callee})).empty());
}

TEST(CallChecks, ACycleOfUnconditionalCallsIsAnErrorAndAConditionalOneAWarning) {
  auto a = Loaded("version: 1\nname: a\nsteps:\n  - {id: to_b, type: call, flow: b}\n", "flows/a.yaml");
  auto b = Loaded("version: 1\nname: b\nsteps:\n  - {id: to_a, type: call, flow: a}\n", "flows/b.yaml");
  ASSERT_TRUE(a && b);
  auto problems = CheckCalls(*a, FlowLibrary({a, b}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(problems[0].error);
  EXPECT_EQ(problems[0].text,
            "flows/a.yaml:4:34: error: call 'to_b' makes a cycle that nothing ends: a -> b -> a (a run would stop at 16 nested calls)\n"
            "      - {id: to_b, type: call, flow: b}\n"
            "                                     ^\n");

  auto countdown = Loaded(R"yaml(version: 1
name: countdown
input:
  n: integer
steps:
  - type: if
    when: input.n > 0
    then: [{id: again, type: call, flow: countdown, input: {n: "{{ input.n - 1 }}"}}]
)yaml",
                          "flows/countdown.yaml");
  ASSERT_TRUE(countdown);
  problems = CheckCalls(*countdown, FlowLibrary({countdown}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_FALSE(problems[0].error);
  EXPECT_EQ(problems[0].text,
            "flows/countdown.yaml:8:42: warning: call 'again' may recurse: countdown -> countdown; only its conditions end it (a run stops at 16 nested calls)\n"
            "        then: [{id: again, type: call, flow: countdown, input: {n: \"{{ input.n - 1 }}\"}}]\n"
            "                                             ^~~~~~~~~\n");
}

}  // namespace
}  // namespace flowrun
