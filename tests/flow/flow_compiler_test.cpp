// Loader diagnostics: the exact text a user sees for each kind of mistake.
#include "flow/flow_loader.h"

#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"

namespace flowrun {
namespace {

using testing::BuiltinRegistry;
using testing::FakeEnvironment;
using testing::FakeLlmClient;

std::string Errors(const std::string& source) {
  StepRegistry registry = BuiltinRegistry();
  auto result = LoadFlowFromString(source, "flows/chat.yaml", registry,
                                   FakeEnvironment(std::make_shared<FakeLlmClient>()));
  EXPECT_EQ(result.flow == nullptr, !result.diagnostics.empty());
  return result.diagnostics.ToString();
}

const char kValid[] = R"(version: 1
name: chat
endpoint: /chat
input:
  message: {type: string, required: true, max_length: 100}
  history: {type: messages, default: []}
steps:
  - id: user
    type: append-message
    content: "{{ input.message }}"
  - id: reply
    type: llm-stream
    system: Be brief.
  - type: append-reply
)";

TEST(FlowCompiler, LoadsAValidFlow) {
  StepRegistry registry = BuiltinRegistry();
  auto result = LoadFlowFromString(kValid, "flows/chat.yaml", registry,
                                   FakeEnvironment(std::make_shared<FakeLlmClient>()));
  ASSERT_TRUE(result.flow) << result.diagnostics.ToString();
  EXPECT_EQ(result.flow->name, "chat");
  EXPECT_EQ(result.flow->endpoint, "/chat");
  ASSERT_EQ(result.flow->steps.size(), 3u);
  EXPECT_EQ(result.flow->steps[2].id, "step3");
  EXPECT_EQ(result.flow->steps[1].type, "llm-stream");
  EXPECT_EQ(result.flow->input.fields().size(), 2u);
}

TEST(FlowCompiler, MisspeltStepTypeGetsLineColumnAndSuggestion) {
  std::string source = kValid;
  source.replace(source.find("type: llm-stream"), 16, "type: llm-strem");
  EXPECT_EQ(Errors(source),
            "flows/chat.yaml:12:11: error: unknown step type 'llm-strem'; did you mean 'llm-stream'?\n"
            "        type: llm-strem\n"
            "              ^~~~~~~~~\n");
}

TEST(FlowCompiler, ReportsEveryProblemInOnePass) {
  const std::string source = R"(version: 2
name: chat
endpont: /chat
steps:
  - type: append-mesage
    content: hi
  - id: reply
    type: llm-stream
    temprature: 0.5
    provider: opnai
  - type: append-reply
    id: reply
)";
  EXPECT_EQ(Errors(source),
            "flows/chat.yaml:1:10: error: unsupported version '2'; this flowrun reads version 1\n"
            "    version: 2\n"
            "             ^\n"
            "flows/chat.yaml:3:1: error: unknown key 'endpont' in the flow; did you mean 'endpoint'?\n"
            "    endpont: /chat\n"
            "    ^~~~~~~\n"
            "flows/chat.yaml:5:11: error: unknown step type 'append-mesage'; did you mean 'append-message'?\n"
            "      - type: append-mesage\n"
            "              ^~~~~~~~~~~~~\n"
            "flows/chat.yaml:9:5: error: unknown key 'temprature' in step 'reply' (llm-stream); did you mean 'temperature'?\n"
            "        temprature: 0.5\n"
            "        ^~~~~~~~~~\n"
            "flows/chat.yaml:10:15: error: 'provider' must be one of auto, openai, anthropic, ollama, mock, got 'opnai'; did you mean 'openai'?\n"
            "        provider: opnai\n"
            "                  ^~~~~\n"
            "flows/chat.yaml:12:9: error: duplicate step id 'reply'\n"
            "        id: reply\n"
            "            ^~~~~\n");
}

TEST(FlowCompiler, ChecksParameterTypesAndRequiredKeys) {
  const std::string source = R"(version: 1
name: chat
steps:
  - type: append-message
    role: user
  - type: llm-stream
    temperature: hot
    max_tokens: 1.5
)";
  EXPECT_EQ(Errors(source),
            "flows/chat.yaml:4:5: error: step 'step1' (append-message) is missing required key 'content'\n"
            "      - type: append-message\n"
            "        ^\n"
            "flows/chat.yaml:7:18: error: 'temperature' must be a number, got a string\n"
            "        temperature: hot\n"
            "                     ^~~\n"
            "flows/chat.yaml:8:17: error: 'max_tokens' must be an integer, got a number\n"
            "        max_tokens: 1.5\n"
            "                    ^~~\n");
}

TEST(FlowCompiler, ChecksTemplatesAgainstDeclaredInputs) {
  const std::string source = R"(version: 1
name: chat
input:
  message: string
steps:
  - type: append-message
    content: "Q: {{ input.mesage }}"
  - type: append-message
    content: "{{ inptu.message }}"
  - type: append-message
    content: "{{ input.message"
)";
  EXPECT_EQ(Errors(source),
            "flows/chat.yaml:7:21: error: unknown input 'mesage'; did you mean 'message'?\n"
            "        content: \"Q: {{ input.mesage }}\"\n"
            "                        ^~~~~~~~~~~~\n"
            "flows/chat.yaml:9:18: error: unknown variable 'inptu'; did you mean 'input'?\n"
            "        content: \"{{ inptu.message }}\"\n"
            "                     ^~~~~\n"
            "flows/chat.yaml:11:15: error: in 'content': unclosed '{{' (expected '}}')\n"
            "        content: \"{{ input.message\"\n"
            "                  ^\n");
}

TEST(FlowCompiler, ChecksInputDeclarations) {
  const std::string source = R"(version: 1
name: chat
endpoint: /healthz
input:
  message: {type: strin, requird: true}
  count: {type: integer, default: "3"}
steps:
  - type: append-reply
)";
  EXPECT_EQ(Errors(source),
            "flows/chat.yaml:3:11: error: endpoint '/healthz' is reserved by flowrun\n"
            "    endpoint: /healthz\n"
            "              ^~~~~~~~\n"
            "flows/chat.yaml:5:19: error: unknown input type 'strin'; did you mean 'string'?\n"
            "      message: {type: strin, requird: true}\n"
            "                      ^~~~~\n"
            "flows/chat.yaml:5:26: error: unknown key 'requird' in input 'message'; did you mean 'required'?\n"
            "      message: {type: strin, requird: true}\n"
            "                             ^~~~~~~\n"
            "flows/chat.yaml:6:35: error: default of input 'count' must be of type integer, got a string\n"
            "      count: {type: integer, default: \"3\"}\n"
            "                                      ^~~\n");
}

TEST(FlowCompiler, MissingTopLevelKeysAndBadYaml) {
  EXPECT_EQ(Errors("description: nothing\n"),
            "flows/chat.yaml:1:1: error: missing 'version: 1' at the top of the flow\n"
            "    description: nothing\n"
            "    ^\n"
            "flows/chat.yaml:1:1: error: missing 'name' (used in the default endpoint /flows/<name>)\n"
            "    description: nothing\n"
            "    ^\n"
            "flows/chat.yaml:1:1: error: missing 'steps' (the list of steps to run)\n"
            "    description: nothing\n"
            "    ^\n");
  EXPECT_EQ(Errors("version: 1\nname: [a\n"),
            "flows/chat.yaml:3:1: error: invalid YAML: end of sequence flow not found\n");
}

TEST(FlowCompiler, DefaultEndpointAndUnknownFile) {
  StepRegistry registry = BuiltinRegistry();
  auto environment = FakeEnvironment(std::make_shared<FakeLlmClient>());
  auto result = LoadFlowFromString("version: 1\nname: summarize\nsteps:\n  - type: llm-stream\n", "s.yaml",
                                   registry, environment);
  ASSERT_TRUE(result.flow) << result.diagnostics.ToString();
  EXPECT_EQ(result.flow->endpoint, "/flows/summarize");
  auto missing = LoadFlowFromFile("/nonexistent/flow.yaml", registry, environment);
  EXPECT_FALSE(missing.flow);
  EXPECT_EQ(missing.diagnostics.ToString(),
            "/nonexistent/flow.yaml: error: cannot read file: No such file or directory\n");
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

// Inputs the fuzzers found: each used to load a broken flow or abort.
TEST(FlowCompiler, FuzzFoundInputsGiveDiagnosticsNotCrashes) {
  EXPECT_EQ(Errors("version: 1\nversion: 1\nname: dup\nsteps:\n  - type: append-reply\n"),
            "flows/chat.yaml:2:1: error: duplicate key 'version'\n    version: 1\n    ^~~~~~~\n");
  EXPECT_EQ(Errors("version: 1\nname: t\nsteps:\n  - type: append-message\n    content: \"{{ history[99999999999999999999] }}\"\n"),
            "flows/chat.yaml:5:25: error: in 'content': index [99999999999999999999] is too large in placeholder "
            "'history[99999999999999999999]'\n"
            "        content: \"{{ history[99999999999999999999] }}\"\n"
            "                            ^\n");
  EXPECT_EQ(Errors("version: \xff\nname: t\nsteps:\n  - type: append-reply\n"),
            "flows/chat.yaml:1:10: error: unsupported version '\"\xEF\xBF\xBD\"'; this flowrun reads version 1\n"
            "    version: \xff\n"
            "             ^\n");
}

}  // namespace
}  // namespace flowrun
