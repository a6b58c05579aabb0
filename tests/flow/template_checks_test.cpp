// Templates in a flow file: checked when it loads (expressions, filters,
// types and tags, each with its line:col and caret), and rendered in a run
// without ever rendering a value again.
#include "flow/flow_loader.h"

#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/runner.h"

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

TEST(FlowTemplates, ExpressionsFiltersAndTypesAreCheckedWithPositions) {
  const std::string source = R"yaml(version: 1
name: chat
input:
  message: string
steps:
  - type: append-message
    content: "{{ input.message | lowr }}"
  - type: append-message
    content: "{{ input.message ~ ('a' - 1) }}"
  - type: append-message
    content: "{% for m in histroy %}{{ m.content }}{% endfor %}"
  - type: append-message
    content: "{% if input.message %}yes"
)yaml";
  EXPECT_EQ(Errors(source),
            "flows/chat.yaml:7:34: error: in 'content': unknown filter 'lowr'; did you mean 'lower'? in placeholder "
            "'input.message | lowr'\n"
            "        content: \"{{ input.message | lowr }}\"\n"
            "                                     ^\n"
            "flows/chat.yaml:9:39: error: cannot apply '-' to a string and a number\n"
            "        content: \"{{ input.message ~ ('a' - 1) }}\"\n"
            "                                          ^\n"
            "flows/chat.yaml:11:27: error: unknown variable 'histroy'; did you mean 'history'?\n"
            "        content: \"{% for m in histroy %}{{ m.content }}{% endfor %}\"\n"
            "                              ^~~~~~~\n"
            "flows/chat.yaml:13:15: error: in 'content': unclosed 'if' (expected '{% endif %}')\n"
            "        content: \"{% if input.message %}yes\"\n"
            "                  ^\n");
}

TEST(FlowTemplates, LoopVariablesAndDefaultsAreFine) {
  const std::string source = R"yaml(version: 1
name: chat
input:
  message: string
steps:
  - type: append-message
    content: |
      {% for m in history -%}
      {{ loop.index }}. {{ m.role }}: {{ m.content | trim }}
      {% endfor %}{{ input.message | default("nothing") }}
  - type: llm-stream
    system: "{{ 'Be brief.' if input.message | length < 100 else 'Summarize.' }}"
)yaml";
  EXPECT_EQ(Errors(source), "");
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

const char kRerender[] = R"yaml(version: 1
name: chat
input:
  message: {type: string, required: true}
  meta: {type: object, default: {}}
steps:
  - id: user
    type: append-message
    content: "{{ input.message }} ({{ input.meta.lang | default('en') }})"
  - id: reply
    type: llm-stream
    system: "{% for m in history %}{{ loop.index }}={{ m.content }};{% endfor %}"
  - id: strict
    type: append-message
    content: "{{ input.meta.lang }}"
)yaml";

TEST(FlowTemplates, ValuesAreNeverRenderedAgainAndUnsetPathsFailTheStep) {
  auto client = std::make_shared<FakeLlmClient>();
  StepRegistry registry = BuiltinRegistry();
  auto loaded = LoadFlowFromString(kRerender, "chat.yaml", registry, FakeEnvironment(client));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  std::vector<std::string> errors;
  Cancellation cancel;
  const nlohmann::json input = {{"message", "{{ input.meta }} {% if %}"}, {"meta", nlohmann::json::object()}};
  RunResult run = RunFlow(*loaded.flow, input, [&](const Event& event) {
    if (event.type == Event::Type::kError) errors.push_back(event.step + ": " + event.text);
    return true;
  }, cancel);
  EXPECT_FALSE(run.ok);
  EXPECT_EQ(run.error_step, "strict");
  EXPECT_EQ(run.error, "'input.meta.lang' is not set");
  EXPECT_EQ(errors, std::vector<std::string>{"strict: 'input.meta.lang' is not set"});
  ASSERT_EQ(client->requests().size(), 1u);
  ASSERT_FALSE(client->requests()[0].messages.empty());
  EXPECT_EQ(client->requests()[0].messages[0].content, "1={{ input.meta }} {% if %} (en);");
  EXPECT_EQ(run.state["history"][0]["content"], "{{ input.meta }} {% if %} (en)");
}

}  // namespace
}  // namespace flowrun
