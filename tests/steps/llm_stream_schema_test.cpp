// llm-stream's structured output (`output_schema`): the schema reaches the
// provider, the answer is validated and stored as an object that later
// steps branch on, an invalid answer goes back to the model with every
// error (path and keyword) until max_attempts answers, and a schema that
// is not valid is a load error at its place. Also reasoning (its own
// events, `reasoning_output`) and the mock's scripted JSON and reasoning.
#include <gtest/gtest.h>

#include <mutex>

#include "fakes/recording_mock_client.h"
#include "flow/flow_test_support.h"
#include "llm/mock_client.h"

namespace flowrun {
namespace {

using nlohmann::json;

using testing::RecordingMock;

const char* kClassifier = R"yaml(version: 1
name: triage
input: {message: string}
steps:
  - id: classify
    type: llm-stream
    system: "Classify the message."
    messages: [{role: user, content: "{{ input.message }}"}]
    output: classification
    output_schema:
      type: object
      properties:
        category: {enum: [billing, tech, other]}
        confidence: {type: number, minimum: 0, maximum: 1}
      required: [category, confidence]
      additionalProperties: false
)yaml";

std::string WithScript(const std::string& flow, const std::string& script) { return flow + script; }

TEST(LlmStreamSchema, TheObjectIsStoredAndLaterStepsBranchOnIt) {
  auto client = std::make_shared<RecordingMock>();
  auto flow = testing::LoadOrFail(WithScript(kClassifier, R"yaml(    mock_reply: {json: {category: billing, confidence: 0.93}}
  - type: if
    when: classification.category == "billing" and classification.confidence > 0.8
    then:
      - {type: set, values: {route: "billing desk"}}
    else:
      - {type: set, values: {route: "general"}}
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(client));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "I was charged twice"}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["classification"], json::parse(R"({"category":"billing","confidence":0.93})"));
  EXPECT_EQ(run.result.state["route"], "billing desk");
  for (const std::string& line : run.events) EXPECT_NE(line.rfind("chunk", 0), 0u) << "a schema step streams nothing: " << line;
  // The provider was asked for JSON following the schema, named after the step.
  ASSERT_EQ(client->requests().size(), 1u);
  const ChatRequest request = client->requests()[0];
  ASSERT_TRUE(request.output_schema.has_value());
  EXPECT_EQ((*request.output_schema)["required"], json::parse(R"(["category","confidence"])"));
  EXPECT_EQ(request.output_schema_name, "classify");
}

TEST(LlmStreamSchema, AnInvalidAnswerGoesBackWithItsErrorsAndTheNextOneCounts) {
  auto client = std::make_shared<RecordingMock>();
  auto flow = testing::LoadOrFail(WithScript(kClassifier, R"yaml(    mock_replies:
      - {json: {category: refunds, confidence: 2}}
      - "```json\n{\"category\": \"tech\", \"confidence\": 0.5}\n```"
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(client));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "my router is down"}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["classification"], json::parse(R"({"category":"tech","confidence":0.5})"))
      << "a Markdown fence around the JSON is tolerated";
  const std::vector<ChatRequest> requests = client->requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::vector<ChatMessage>& second = requests[1].messages;
  ASSERT_EQ(second.size(), 4u);  // system, user, the invalid answer, the correction
  EXPECT_EQ(second[2].role, "assistant");
  EXPECT_EQ(second[2].content, R"({"category":"refunds","confidence":2})");
  EXPECT_EQ(second[3].role, "user");
  EXPECT_EQ(second[3].content,
            "Your answer does not follow the JSON schema:\n"
            "- $.category: \"refunds\" is not one of \"billing\", \"tech\", \"other\" (enum)\n"
            "- $.confidence: 2 is greater than the maximum 1 (maximum)\n"
            "Answer again with only the corrected JSON.");
}

TEST(LlmStreamSchema, AfterMaxAttemptsTheStepFailsNamingEveryError) {
  auto flow = testing::LoadOrFail(WithScript(kClassifier, R"yaml(    max_attempts: 2
    mock_replies: ["not json at all", {json: {category: other}}]
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "?"}});
  ASSERT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error,
            "the answer does not follow output_schema (2 answers tried): $: missing required property "
            "\"confidence\" (required)");
  EXPECT_EQ(run.result.state["classification"], R"({"category":"other"})") << "the last answer stays visible as text";
}

TEST(LlmStreamSchema, NotJsonIsAnErrorOfItsOwn) {
  auto flow = testing::LoadOrFail(WithScript(kClassifier, "    max_attempts: 1\n    mock_reply: \"Sure! Billing.\"\n"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "?"}});
  EXPECT_EQ(run.result.error,
            "the answer does not follow output_schema (1 answer tried): $: the answer is not JSON: Sure! Billing.");
}

TEST(LlmStreamSchema, StreamTrueStreamsTheJsonAndDoesNotRetry) {
  auto flow = testing::LoadOrFail(WithScript(kClassifier, "    stream: true\n    mock_replies: [\"{\\\"category\\\": 1}\", x]\n"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "?"}});
  ASSERT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error.rfind("the answer does not follow output_schema (1 answer tried): ", 0), 0u)
      << run.result.error;
  EXPECT_EQ(run.events[1], "chunk classify {\"category\":");
  EXPECT_EQ(run.events[2], "chunk classify  1}");
}

TEST(LlmStreamSchema, AnInvalidSchemaIsALoadErrorAtItsPlace) {
  const std::string yaml = R"yaml(version: 1
name: bad
steps:
  - type: llm-stream
    output_schema:
      type: object
      properties:
        n: {type: integer, minimum: "zero"}
)yaml";
  EXPECT_EQ(testing::LoadErrors(yaml, testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({}))),
            "flows/x.yaml:8:37: error: 'output_schema' is not a valid JSON Schema: properties.n.minimum: "
            "\"minimum\" must be a number\n"
            "            n: {type: integer, minimum: \"zero\"}\n"
            "                                        ^~~~~~\n");
}

TEST(LlmStreamReasoning, ReasoningIsItsOwnEventAndNeverPartOfTheReply) {
  auto flow = testing::LoadOrFail(R"yaml(version: 1
name: think
input: {message: string}
steps:
  - id: answer
    type: llm-stream
    reasoning_output: thoughts
    mock_reply: {reasoning: "The user greets me.", text: "Hello there"}
  - type: set
    values: {echo: "{{ thoughts }}"}
)yaml",
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "hi"}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["reply"], "Hello there");
  EXPECT_EQ(run.result.state["thoughts"], "The user greets me.");
  EXPECT_EQ(run.result.state["echo"], "The user greets me.");
  const std::vector<std::string> expected = {
      "before answer",          "reasoning answer The",    "reasoning answer  user",
      "reasoning answer  greets", "reasoning answer  me.", "chunk answer Hello",
      "chunk answer  there",    "after answer",            "before step2",
      "after step2",            "done ok"};
  EXPECT_EQ(run.events, expected);
}

TEST(LlmStreamMockScript, MappingsAreCheckedWhereTheyAreWritten) {
  const std::string yaml = R"yaml(version: 1
name: bad
steps:
  - type: llm-stream
    mock_replies:
      - {text: a, json: {b: 1}}
      - {tool_calls: [{arguments: {}}]}
      - {txt: a}
)yaml";
  EXPECT_EQ(testing::LoadErrors(yaml, testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({}))),
            "flows/x.yaml:6:9: error: a mock answer has either 'text' or 'json', not both\n"
            "          - {text: a, json: {b: 1}}\n"
            "            ^\n"
            "flows/x.yaml:7:23: error: a scripted tool call needs a 'name'\n"
            "          - {tool_calls: [{arguments: {}}]}\n"
            "                          ^\n"
            "flows/x.yaml:8:10: error: unknown key 'txt' in a mock answer; did you mean 'text'?\n"
            "          - {txt: a}\n"
            "             ^~~\n");
}

}  // namespace
}  // namespace flowrun
