// Loading flows with control steps and policies: the exact text, line and
// column of every mistake, the limits checked at load (nesting, map
// concurrency, steps in all blocks), and the tree that comes out.
#include <gtest/gtest.h>

#include "flow/flow_test_support.h"

namespace flowrun {
namespace {

using testing::FakeEnvironment;
using testing::FakeLlmClient;
using testing::TestRegistry;

std::string Errors(const std::string& yaml) {
  return testing::LoadErrors(yaml, TestRegistry(), FakeEnvironment(std::make_shared<FakeLlmClient>()));
}

TEST(ControlCompiler, BuildsTheTreeWithPathsAndBlocks) {
  auto flow = testing::LoadOrFail(R"yaml(version: 1
name: tree
input:
  category: string
steps:
  - id: triage
    type: if
    when: input.category == "billing"
    then:
      - id: research
        type: parallel
        branches:
          summary: [{id: draft, type: llm-stream, stream: false, output: summary}]
          keywords: [{type: set, values: {keywords: "{{ input.category }}"}}]
    else:
      - {type: fail, message: "not billing"}
    on_error:
      - {id: apologise, type: set, values: {reason: "{{ error.message }}"}}
)yaml",
                                  TestRegistry(), FakeEnvironment(std::make_shared<FakeLlmClient>()));
  ASSERT_TRUE(flow);
  ASSERT_EQ(flow->steps.size(), 1u);
  const FlowStep& triage = flow->steps[0];
  EXPECT_EQ(triage.path, "triage");
  ASSERT_TRUE(triage.IsControl());
  ASSERT_EQ(triage.blocks.size(), 3u);
  EXPECT_EQ(triage.blocks[0].name, "then");
  EXPECT_EQ(triage.blocks[1].name, "else");
  EXPECT_EQ(triage.blocks[2].name, "on_error");
  EXPECT_EQ(triage.policy.fallback_block, 2);
  EXPECT_EQ(triage.blocks[1].steps[0].path, "triage/else/step1");
  const FlowStep& research = triage.blocks[0].steps[0];
  ASSERT_EQ(research.blocks.size(), 2u);
  EXPECT_EQ(research.blocks[1].name, "branches.keywords");
  EXPECT_EQ(research.blocks[0].steps[0].path, "triage/then/research/branches.summary/draft");
  EXPECT_EQ(research.blocks[1].steps[0].path, "triage/then/research/branches.keywords/step1");
  EXPECT_EQ(research.blocks[0].steps[0].step->StreamedOutputKey(), "") << "stream: false streams nothing";
  EXPECT_EQ(triage.blocks[2].steps[0].path, "triage/on_error/apologise");
}

TEST(ControlCompiler, MissingAndMistypedParametersOfControlSteps) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - id: again
    type: loop
    steps: [{type: set, values: {a: 1}}]
  - id: pick
    type: switch
    on: 1
    cases: [a, b]
  - id: both
    type: parallel
    branches: {}
)yaml"),
            "flows/x.yaml:4:5: error: step 'again' (loop) is missing required key 'max_iterations'\n"
            "      - id: again\n"
            "        ^\n"
            "flows/x.yaml:10:12: error: 'cases' must be a mapping of names to lists of steps, got a list\n"
            "        cases: [a, b]\n"
            "               ^\n"
            "flows/x.yaml:13:15: error: 'branches' of parallel 'both' is empty\n"
            "        branches: {}\n"
            "                  ^\n");
}

TEST(ControlCompiler, ExpressionsAreCheckedWhereTheyAreWritten) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
input:
  category: string
steps:
  - {type: set, values: {category: "{{ input.category }}"}}
  - id: triage
    type: if
    when: categry == "billing"
    then: [{type: set, values: {a: 1}, if: "input.categori"}]
  - id: each
    type: map
    over: input.category |
    steps: [{type: set, values: {a: "{{ loop.index + doc }}"}}]
)yaml"),
            "flows/x.yaml:9:11: error: unknown variable 'categry'; did you mean 'category'?\n"
            "        when: categry == \"billing\"\n"
            "              ^~~~~~~\n"
            "flows/x.yaml:10:45: error: unknown input 'categori'; did you mean 'category'?\n"
            "        then: [{type: set, values: {a: 1}, if: \"input.categori\"}]\n"
            "                                                ^~~~~~~~~~~~~~\n"
            "flows/x.yaml:13:27: error: in 'over': expected a filter name after '|'\n"
            "        over: input.category |\n"
            "                              ^\n"
            "flows/x.yaml:14:54: error: unknown variable 'doc'\n"
            "        steps: [{type: set, values: {a: \"{{ loop.index + doc }}\"}}]\n"
            "                                                         ^~~\n");
}

TEST(ControlCompiler, LoopAndMapNamesAreOnlyVisibleInsideTheirBlocks) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - id: each
    type: map
    over: "[1, 2]"
    steps: [{type: set, values: {a: "{{ item }}"}}]
  - {type: set, values: {b: "{{ item }}", c: "{{ loop.index }}", d: "{{ error }}"}}
)yaml"),
            "flows/x.yaml:8:33: error: unknown variable 'item'\n"
            "      - {type: set, values: {b: \"{{ item }}\", c: \"{{ loop.index }}\", d: \"{{ error }}\"}}\n"
            "                                    ^~~~\n"
            "flows/x.yaml:8:50: error: unknown variable 'loop'\n"
            "      - {type: set, values: {b: \"{{ item }}\", c: \"{{ loop.index }}\", d: \"{{ error }}\"}}\n"
            "                                                     ^~~~\n"
            "flows/x.yaml:8:73: error: unknown variable 'error'\n"
            "      - {type: set, values: {b: \"{{ item }}\", c: \"{{ loop.index }}\", d: \"{{ error }}\"}}\n"
            "                                                                            ^~~~~\n");
}

TEST(ControlCompiler, PoliciesAreCheckedWithTheirRanges) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - {type: set, values: {a: 1}, timeout_ms: 0}
  - {type: set, values: {a: 1}, retry: 3}
  - {type: set, values: {a: 1}, retry: {max_attempts: 0, backof_ms: 5}}
  - {type: set, values: {a: 1}, on_error: contine}
)yaml"),
            "flows/x.yaml:4:45: error: 'timeout_ms' must be a whole number of milliseconds from 1 to 86400000\n"
            "      - {type: set, values: {a: 1}, timeout_ms: 0}\n"
            "                                                ^\n"
            "flows/x.yaml:5:40: error: 'retry' must be a mapping like {max_attempts: 3, backoff_ms: 500}, got a number\n"
            "      - {type: set, values: {a: 1}, retry: 3}\n"
            "                                           ^\n"
            "flows/x.yaml:6:55: error: 'max_attempts' must be a whole number from 1 to 100\n"
            "      - {type: set, values: {a: 1}, retry: {max_attempts: 0, backof_ms: 5}}\n"
            "                                                          ^\n"
            "flows/x.yaml:6:58: error: unknown key 'backof_ms' in 'retry'; did you mean 'backoff_ms'?\n"
            "      - {type: set, values: {a: 1}, retry: {max_attempts: 0, backof_ms: 5}}\n"
            "                                                             ^~~~~~~~~\n"
            "flows/x.yaml:7:43: error: 'on_error' must be fail, continue or a list of steps, got 'contine'; did you "
            "mean 'continue'?\n"
            "      - {type: set, values: {a: 1}, on_error: contine}\n"
            "                                              ^~~~~~~\n");
}

TEST(ControlCompiler, IdsAreUniqueInTheirBlockAndArePathSegments) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - {id: step2, type: set, values: {a: 1}}
  - {type: set, values: {a: 1}}
  - id: a/b
    type: set
    values: {a: 1}
  - id: outer
    type: loop
    max_iterations: 1
    steps: [{id: step2, type: set, values: {a: 1}}]
)yaml"),
            "flows/x.yaml:5:5: error: duplicate step id 'step2'\n"
            "      - {type: set, values: {a: 1}}\n"
            "        ^\n"
            "flows/x.yaml:6:9: error: step id 'a/b' may only hold letters, digits, '.', '_' and '-'\n"
            "      - id: a/b\n"
            "            ^~~\n");
}

TEST(ControlCompiler, StepsCannotWriteTheNamesTheRunSetsItself) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - {type: set, values: {input: 1, "bad key": 2}}
  - {type: map, over: "[1]", as: loop, steps: [{type: set, values: {a: 1}}]}
)yaml"),
            "flows/x.yaml:4:26: error: 'input' cannot be written by a step\n"
            "      - {type: set, values: {input: 1, \"bad key\": 2}}\n"
            "                             ^~~~~\n"
            "flows/x.yaml:4:36: error: 'bad key' is not a state key name (letters, digits and '_')\n"
            "      - {type: set, values: {input: 1, \"bad key\": 2}}\n"
            "                                       ^~~~~~~~~\n"
            "flows/x.yaml:5:34: error: 'as' cannot be 'loop' (a name the run already uses)\n"
            "      - {type: map, over: \"[1]\", as: loop, steps: [{type: set, values: {a: 1}}]}\n"
            "                                     ^~~~\n");
}

TEST(ControlCompiler, MapConcurrencyHasALimit) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - {type: map, over: "[1]", concurrency: 65, steps: [{type: set, values: {a: 1}}]}
  - {type: map, over: "[1]", collect: a, steps: [{type: set, values: {a: 1}}]}
)yaml"),
            "flows/x.yaml:4:43: error: 'concurrency' is 65, more than 64 (the limit for a flow file)\n"
            "      - {type: map, over: \"[1]\", concurrency: 65, steps: [{type: set, values: {a: 1}}]}\n"
            "                                              ^~\n"
            "flows/x.yaml:5:39: error: 'collect' needs 'output' (the state key that receives the list)\n"
            "      - {type: map, over: \"[1]\", collect: a, steps: [{type: set, values: {a: 1}}]}\n"
            "                                          ^\n");
}

// Steps nested 17 deep (each level a loop in the block of the one above):
// past the limit of 16, the error is at the first step too deep.
TEST(ControlCompiler, NestingHasALimit) {
  auto nested = [](int levels) {
    std::string yaml = "version: 1\nname: x\nsteps:\n";
    std::string indent = "  ";
    for (int level = 1; level < levels; ++level) {
      yaml += indent + "- type: loop\n" + indent + "  max_iterations: 1\n" + indent + "  steps:\n";
      indent += "    ";
    }
    yaml += indent + "- {type: set, values: {a: 1}}\n";
    return yaml;
  };
  EXPECT_EQ(Errors(nested(16)), "");
  const std::string errors = Errors(nested(17));
  EXPECT_EQ(errors.substr(0, errors.find('\n')),
            "flows/x.yaml:52:69: error: steps are nested more than 16 levels deep (the limit for a flow file)");
}

TEST(ControlCompiler, StepsInsideBlocksCountTowardsTheLimitOfAFlow) {
  std::string yaml = "version: 1\nname: x\nsteps:\n  - type: loop\n    max_iterations: 1\n    steps:\n";
  for (int i = 0; i < 1000; ++i) yaml += "      - {type: set, values: {a: 1}}\n";
  EXPECT_EQ(Errors(yaml), "flows/x.yaml:4:3: error: the flow has 1001 steps, more than 1000 (the limit for a flow file)\n"
                          "      - type: loop\n"
                          "      ^\n");
}

TEST(ControlCompiler, CallNeedsAnOutputForOutputFrom) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - {type: call, flow: other, output_from: reply}
)yaml"),
            "flows/x.yaml:4:44: error: 'output_from' needs 'output' (the state key that receives the value)\n"
            "      - {type: call, flow: other, output_from: reply}\n"
            "                                               ^~~~~\n");
}

TEST(ControlCompiler, LlmStreamMessagesAreCheckedTemplates) {
  EXPECT_EQ(Errors(R"yaml(version: 1
name: x
steps:
  - type: llm-stream
    messages:
      - {role: user, content: "{{ histroy }}"}
      - {role: robot, content: hi}
      - hello
)yaml"),
            "flows/x.yaml:6:35: error: unknown variable 'histroy'; did you mean 'history'?\n"
            "          - {role: user, content: \"{{ histroy }}\"}\n"
            "                                      ^~~~~~~\n"
            "flows/x.yaml:7:16: error: 'role' must be one of system, user, assistant, got 'robot'\n"
            "          - {role: robot, content: hi}\n"
            "                   ^~~~~\n"
            "flows/x.yaml:8:9: error: 'messages[2]' must be a mapping like {role: user, content: \"...\"}, got a string\n"
            "          - hello\n"
            "            ^~~~~\n");
}

}  // namespace
}  // namespace flowrun
