// Reading chat-completions requests: refusals with exact texts and params,
// fields accepted and ignored, the default and the declared
// messages-to-input mapping, and pass_through only where the flow allows.
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

using nlohmann::json;

std::shared_ptr<const Flow> FlowWith(const std::string& inputs_and_openai) {
  StepRegistry registry = testing::BuiltinRegistry();
  auto result = LoadFlowFromString("version: 1\nname: chat\n" + inputs_and_openai + "steps:\n  - type: llm-stream\n",
                                   "chat.yaml", registry,
                                   testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>()));
  EXPECT_TRUE(result.flow) << result.diagnostics.ToString();
  return result.flow;
}

const char kChatInputs[] = "input:\n  message: {type: string, required: true}\n  history: {type: messages, default: []}\n";

std::string Refusal(const std::string& body_text) {
  ChatCall call;
  auto error = ReadChatRequest(json::parse(body_text), &call);
  if (!error) return "accepted";
  return std::to_string(error->status) + " [" + error->param + "] " + error->message;
}

TEST(OpenAiRequest, RefusesWhatCannotBeAnswered) {
  EXPECT_EQ(Refusal("[]"), "400 [] the request body must be a JSON object");
  EXPECT_EQ(Refusal(R"({"messages":[{"role":"user","content":"hi"}]})"),
            "400 [model] 'model' is required: the id of a served flow (GET /v1/models lists them)");
  EXPECT_EQ(Refusal(R"({"model":7,"messages":[{"role":"user","content":"hi"}]})"),
            "400 [model] 'model' is required: the id of a served flow (GET /v1/models lists them)");
  EXPECT_EQ(Refusal(R"({"model":"chat"})"), "400 [messages] 'messages' is required: a non-empty list of {role, content}");
  EXPECT_EQ(Refusal(R"({"model":"chat","messages":[]})"),
            "400 [messages] 'messages' is required: a non-empty list of {role, content}");
  EXPECT_EQ(Refusal(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],"n":2})"),
            "400 [n] 'n' is 2; flowrun answers with one choice, so n must be 1");
  EXPECT_EQ(Refusal(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],"stream":"yes"})"),
            "400 [stream] 'stream' must be true or false");
}

TEST(OpenAiRequest, AcceptsAndIgnoresEveryOtherField) {
  ChatCall call;
  auto body = json::parse(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],"n":1,"stream":true,
      "stream_options":{"include_usage":true},"user":"u1","tools":[{"type":"function","function":{"name":"f"}}],
      "tool_choice":"auto","reasoning_effort":"low","cache_control":{"type":"ephemeral"},"seed":4,
      "response_format":{"type":"text"},"logprobs":false,"presence_penalty":0.5,"metadata":{"a":"b"},
      "temperature":0.2,"top_p":0.9,"max_tokens":10})");
  ASSERT_FALSE(ReadChatRequest(body, &call));
  EXPECT_EQ(call.model, "chat");
  EXPECT_TRUE(call.stream);
  EXPECT_TRUE(call.include_usage);
  auto flow = FlowWith(kChatInputs);
  ASSERT_FALSE(MapChatToFlow(body, *flow, &call));
  EXPECT_EQ(call.input, json::parse(R"({"message":"hi","history":[]})"));
  // Not passed through: the flow does not allow it.
  EXPECT_FALSE(call.overrides.temperature);
  EXPECT_FALSE(call.overrides.max_tokens);

  ChatCall plain;
  ASSERT_FALSE(ReadChatRequest(json::parse(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],
      "stream_options":{"include_usage":true}})"), &plain));
  EXPECT_FALSE(plain.stream);
  EXPECT_FALSE(plain.include_usage);  // only streams have a usage chunk
}

TEST(OpenAiRequest, DefaultMappingLastUserMessageAndEverythingBefore) {
  auto flow = FlowWith(kChatInputs);
  ChatCall call;
  auto body = json::parse(R"({"model":"chat","messages":[
      {"role":"system","content":"Be brief."},
      {"role":"developer","content":"Use French."},
      {"role":"user","content":"a"},
      {"role":"assistant","content":null,"tool_calls":[]},
      {"role":"assistant","content":[{"type":"text","text":"b1"},{"type":"text","text":"b2"}]},
      {"role":"user","content":[{"type":"text","text":"c"}]}]})");
  ASSERT_FALSE(MapChatToFlow(body, *flow, &call));
  EXPECT_EQ(call.input, json::parse(R"({"message":"c","history":[
      {"role":"system","content":"Be brief."},{"role":"system","content":"Use French."},
      {"role":"user","content":"a"},{"role":"assistant","content":""},{"role":"assistant","content":"b1\nb2"}]})"));
}

TEST(OpenAiRequest, ADeclaredMappingAndTheSystemText) {
  auto flow = FlowWith(
      "input:\n  question: {type: string, required: true}\n  all: {type: messages}\n  rules: {type: string}\n"
      "openai:\n  input: {question: last_user_message, all: messages, rules: system}\n");
  ChatCall call;
  auto body = json::parse(R"({"model":"chat","messages":[{"role":"system","content":"one"},
      {"role":"user","content":"q"},{"role":"system","content":"two"}]})");
  ASSERT_FALSE(MapChatToFlow(body, *flow, &call));
  EXPECT_EQ(call.input, json::parse(R"({"question":"q","rules":"one\n\ntwo","all":[
      {"role":"system","content":"one"},{"role":"user","content":"q"},{"role":"system","content":"two"}]})"));
}

std::string MapRefusal(const std::string& messages) {
  auto flow = FlowWith(kChatInputs);
  ChatCall call;
  auto error = MapChatToFlow(json::parse(R"({"model":"chat","messages":)" + messages + "}"), *flow, &call);
  if (!error) return "accepted";
  return std::to_string(error->status) + " [" + error->param + "] " + error->message;
}

TEST(OpenAiRequest, MessagesItCannotMap) {
  EXPECT_EQ(MapRefusal(R"([{"role":"system","content":"x"}])"),
            "400 [messages] 'messages' holds no user message; flow 'chat' takes its input 'message' from the last one");
  EXPECT_EQ(MapRefusal(R"([{"role":"tool","content":"x"}])"),
            "400 [messages[0].role] messages[0].role must be system, developer, user or assistant, got 'tool'");
  EXPECT_EQ(MapRefusal(R"(["hi"])"), "400 [messages[0]] messages[0] must be an object with role and content");
  EXPECT_EQ(MapRefusal(R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}}]}])"),
            "400 [messages[0].content[1]] messages[0].content[1]: only text parts are supported, got 'image_url'");
  EXPECT_EQ(MapRefusal(R"([{"role":"user","content":5}])"),
            "400 [messages[0].content] messages[0].content must be a string or a list of text parts");
}

TEST(OpenAiRequest, PassThroughOnlyWhatTheFlowAllows) {
  auto flow = FlowWith(std::string(kChatInputs) +
                       "openai:\n  pass_through: [temperature, top_p, max_tokens, max_completion_tokens]\n");
  ChatCall call;
  auto body = json::parse(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],
      "temperature":0.25,"max_tokens":50,"max_completion_tokens":20,"top_p":0.5})");
  ASSERT_FALSE(MapChatToFlow(body, *flow, &call));
  EXPECT_EQ(call.overrides.temperature, 0.25);
  EXPECT_EQ(call.overrides.max_tokens, 20);  // the newer name wins
  EXPECT_EQ(call.overrides.top_p, 0.5);

  auto only_temperature = FlowWith(std::string(kChatInputs) + "openai: {pass_through: [temperature]}\n");
  ChatCall other;
  ASSERT_FALSE(MapChatToFlow(body, *only_temperature, &other));
  EXPECT_EQ(other.overrides.temperature, 0.25);
  EXPECT_FALSE(other.overrides.max_tokens);
  EXPECT_FALSE(other.overrides.top_p);

  ChatCall bad;
  auto wrong = MapChatToFlow(json::parse(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],
      "temperature":"hot"})"), *flow, &bad);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->message, "'temperature' must be a number");
  EXPECT_EQ(wrong->param, "temperature");
  auto wrong_top_p = MapChatToFlow(json::parse(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],
      "top_p":"most"})"), *flow, &bad);
  ASSERT_TRUE(wrong_top_p);
  EXPECT_EQ(wrong_top_p->message, "'top_p' must be a number");
  auto zero = MapChatToFlow(json::parse(R"({"model":"chat","messages":[{"role":"user","content":"hi"}],
      "max_tokens":0})"), *flow, &bad);
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->message, "'max_tokens' must be a whole number of at least 1");
}

}  // namespace
}  // namespace flowrun
