// The anthropic provider's format without a socket: a recorded-format
// Messages stream (thinking, text, two tool_use blocks, ping and an unknown
// event, cumulative usage) split at every byte boundary; a stream without
// message_stop; error events; output_schema as a forced tool; the body.
#include "llm/anthropic_wire.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "llm/decode_test_support.h"

namespace flowrun {
namespace {

using nlohmann::json;
using testing::DecodeAtEveryBoundary;

std::string Event(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}

const std::string kMessageStart = Event(
    "message_start",
    R"({"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2}}})");
const std::string kMessageStop = Event("message_stop", R"({"type":"message_stop"})");

std::string TextBlock(int index, const std::string& text) {
  const std::string i = std::to_string(index);
  return Event("content_block_start",
               R"({"type":"content_block_start","index":)" + i + R"(,"content_block":{"type":"text","text":""}})") +
         Event("content_block_delta", R"({"type":"content_block_delta","index":)" + i +
                                          R"(,"delta":{"type":"text_delta","text":")" + text + R"("}})") +
         Event("content_block_stop", R"({"type":"content_block_stop","index":)" + i + "}");
}

ChatRequest Request() {
  ChatRequest request;
  request.model = "claude-sonnet-4-5";
  request.messages = {{"user", "hi"}};
  return request;
}

std::unique_ptr<StreamDecoder> Make() { return std::make_unique<AnthropicDecoder>(Request()); }

TEST(AnthropicWireTest, RecordedStreamAtEveryBoundary) {
  const std::string body =
      kMessageStart +
      Event("content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})") +
      Event("ping", R"({"type": "ping"})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants "}})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"the weather."}})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}})") +
      Event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      TextBlock(1, "Let me check, h\u00e9llo \u65e5\u672c.") +
      Event("content_block_start",
            R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}})") +
      Event("future_event_type", R"({"type":"future_event_type","index":2})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\"}"}})") +
      Event("content_block_stop", R"({"type":"content_block_stop","index":2})") +
      Event("content_block_start",
            R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}})") +
      Event("content_block_stop", R"({"type":"content_block_stop","index":3})") +
      Event("message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":40}})") +
      Event("message_delta", R"({"type":"message_delta","delta":{},"usage":{"output_tokens":89}})") + kMessageStop;
  const auto decoded = DecodeAtEveryBoundary(WireProtocol::Framing::kSse, Make, body);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.message();
  EXPECT_TRUE(decoded.ended);
  EXPECT_TRUE(decoded.answer.finished);
  EXPECT_EQ(decoded.reasoning, "The user wants the weather.");
  EXPECT_EQ(decoded.text, "Let me check, h\u00e9llo \u65e5\u672c.");
  EXPECT_EQ(decoded.answer.finish_reason, "tool_calls");
  EXPECT_EQ(decoded.answer.prompt_tokens, 472);
  EXPECT_EQ(decoded.answer.completion_tokens, 89) << "the last cumulative output_tokens counts";
  ASSERT_EQ(decoded.answer.tool_calls.size(), 2u);
  EXPECT_EQ(decoded.answer.tool_calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(decoded.answer.tool_calls[0].name, "get_weather");
  EXPECT_EQ(decoded.answer.tool_calls[0].arguments, "{\"location\": \"San Francisco, CA\"}");
  EXPECT_EQ(decoded.answer.tool_calls[1].name, "get_time");
  EXPECT_EQ(decoded.answer.tool_calls[1].arguments, "{}") << "no input_json_delta: no arguments";
}

TEST(AnthropicWireTest, StopReasonsAreMapped) {
  for (const auto& [reason, mapped] : std::vector<std::pair<std::string, std::string>>{
           {"end_turn", "stop"}, {"max_tokens", "length"}, {"stop_sequence", "stop"}, {"refusal", "refusal"}}) {
    const std::string body = kMessageStart + TextBlock(0, "x") +
                             Event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" + reason +
                                                        R"("},"usage":{"output_tokens":1}})") +
                             kMessageStop;
    auto decoder = Make();
    EXPECT_EQ(testing::DecodeInPieces(WireProtocol::Framing::kSse, *decoder, body, {}).answer.finish_reason, mapped);
  }
}

TEST(AnthropicWireTest, AStreamWithoutMessageStopIsNotFinished) {
  const std::string body = kMessageStart + TextBlock(0, "Hello") +
                           Event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}})");
  auto decoder = Make();
  const auto decoded = testing::DecodeInPieces(WireProtocol::Framing::kSse, *decoder, body, {});
  EXPECT_TRUE(decoded.status.ok());
  EXPECT_EQ(decoded.text, "Hello");
  EXPECT_FALSE(decoded.ended);
  EXPECT_FALSE(decoded.answer.finished);
}

TEST(AnthropicWireTest, OverloadedErrorEventIsRetryableOthersAreNot) {
  auto decoder = Make();
  DecodedMessage message;
  Status status = decoder->Decode(
      "error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", &message);
  EXPECT_EQ(status.message(), "upstream error: overloaded_error: Overloaded");
  EXPECT_EQ(status.code(), StatusCode::kUpstreamError);
  EXPECT_TRUE(message.retryable);
  EXPECT_EQ(message.fault, StreamFault::kUpstreamError);
  DecodedMessage other;
  status = decoder->Decode(
      "error", R"({"type":"error","error":{"type":"api_error","message":"Internal server error"}})", &other);
  EXPECT_EQ(status.message(), "upstream error: api_error: Internal server error");
  EXPECT_FALSE(other.retryable);
}

TEST(AnthropicWireTest, NonJsonDataIsMalformed) {
  auto decoder = Make();
  DecodedMessage message;
  const Status status = decoder->Decode("content_block_delta", "{oops", &message);
  EXPECT_EQ(status.message(), "upstream sent a data line that is not JSON: {oops");
  EXPECT_EQ(message.fault, StreamFault::kMalformed);
}

TEST(AnthropicWireTest, OutputSchemaToolInputBecomesTheReplyText) {
  ChatRequest request = Request();
  request.output_schema = json{{"type", "object"}};
  request.output_schema_name = "classification";
  const std::string body =
      kMessageStart +
      Event("content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_9","name":"classification","input":{}}})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"category\":"}})") +
      Event("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":" \"billing\"}"}})") +
      Event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      Event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}})") +
      kMessageStop;
  const auto decoded = DecodeAtEveryBoundary(
      WireProtocol::Framing::kSse, [&] { return std::make_unique<AnthropicDecoder>(request); }, body);
  EXPECT_EQ(decoded.text, "{\"category\": \"billing\"}");
  EXPECT_TRUE(decoded.answer.tool_calls.empty());
  EXPECT_EQ(decoded.answer.finish_reason, "stop");

  const json sent = json::parse(BuildAnthropicBody(request));
  EXPECT_EQ(sent["tool_choice"], json::parse(R"({"type":"tool","name":"classification"})"));
  EXPECT_EQ(sent["tools"], json::parse(R"([{"name":"classification","description":"Answer with JSON that follows this schema.","input_schema":{"type":"object"}}])"));
}

TEST(AnthropicWireTest, TheBodyMovesSystemUpAndMapsToolTurns) {
  ChatRequest request;
  request.model = "claude-sonnet-4-5";
  request.temperature = 0.2;
  request.top_p = 0.9;
  request.messages = {{"system", "Be terse."}, {"system", "Use metric units."}, {"user", "Weather?"}};
  ChatMessage assistant{"assistant", "Checking."};
  assistant.tool_calls = {{"toolu_1", "get_weather", "{\"city\":\"Paris\"}"}, {"toolu_2", "get_time", ""}};
  request.messages.push_back(assistant);
  ChatMessage first{"tool", "21C"};
  first.tool_call_id = "toolu_1";
  ChatMessage second{"tool", "noon"};
  second.tool_call_id = "toolu_2";
  request.messages.push_back(first);
  request.messages.push_back(second);
  request.tools = {{"get_weather", "Current weather", json{{"type", "object"}}}};
  const json body = json::parse(BuildAnthropicBody(request));
  EXPECT_EQ(body["system"], "Be terse.\n\nUse metric units.");
  EXPECT_EQ(body["max_tokens"], 1024) << "Anthropic requires max_tokens";
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["temperature"], 0.2);
  EXPECT_EQ(body["top_p"], 0.9);
  EXPECT_EQ(body["messages"], json::parse(R"([
    {"role":"user","content":"Weather?"},
    {"role":"assistant","content":[{"type":"text","text":"Checking."},
      {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
      {"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"21C"},
      {"type":"tool_result","tool_use_id":"toolu_2","content":"noon"}]}])"));
  EXPECT_EQ(body["tools"], json::parse(R"([{"name":"get_weather","description":"Current weather","input_schema":{"type":"object"}}])"));
  EXPECT_FALSE(body.contains("tool_choice"));
  request.max_tokens = 50;
  EXPECT_EQ(json::parse(BuildAnthropicBody(request))["max_tokens"], 50);
}

TEST(AnthropicWireTest, ErrorBodiesReadWell) {
  EXPECT_EQ(AnthropicErrorMessage(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
            "overloaded_error: Overloaded");
  EXPECT_EQ(AnthropicErrorMessage("Bad Gateway"), "Bad Gateway");
}

}  // namespace
}  // namespace flowrun
