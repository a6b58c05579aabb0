// What the openai provider reads besides text: tool-call deltas (parallel,
// interleaved), reasoning_content / reasoning, refusal, usage, from a
// recorded-format stream split at every byte boundary; and what its request
// body carries for tools, tool messages, top_p and output_schema.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "llm/chunk_scanner.h"
#include "llm/decode_test_support.h"
#include "llm/openai_wire.h"

namespace flowrun {
namespace {

using nlohmann::json;
using testing::DecodeAtEveryBoundary;

std::string Chunk(const std::string& delta, const std::string& finish_reason = "null") {
  return "data: {\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
         "\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":" +
         delta + ",\"logprobs\":null,\"finish_reason\":" + finish_reason + "}]}\n\n";
}

std::unique_ptr<StreamDecoder> Make() { return MakeOpenAiDecoder(); }

TEST(OpenAiToolsTest, ParallelToolCallsWithInterleavedFragmentsAtEveryBoundary) {
  const std::string body =
      Chunk(R"({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null})") +
      Chunk(R"({"tool_calls":[{"index":1,"id":"call_def","type":"function","function":{"name":"get_time","arguments":""}}]})") +
      Chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": "}}]})") +
      Chunk(R"({"tool_calls":[{"index":1,"function":{"arguments":"{\"tz\":\"Europe/Paris\"}"}}]})") +
      Chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"Paris, 日本\"}"}}]})") +
      Chunk("{}", "\"tool_calls\"") +
      "data: {\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,\"model\":"
      "\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":82,\"completion_tokens\":37,\"total_tokens\":119}}\n\n"
      "data: [DONE]\n\n";
  const auto decoded = DecodeAtEveryBoundary(WireProtocol::Framing::kSse, Make, body);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.message();
  EXPECT_TRUE(decoded.ended);
  EXPECT_EQ(decoded.text, "");
  EXPECT_EQ(decoded.answer.finish_reason, "tool_calls");
  EXPECT_EQ(decoded.answer.prompt_tokens, 82);
  EXPECT_EQ(decoded.answer.completion_tokens, 37);
  ASSERT_EQ(decoded.answer.tool_calls.size(), 2u);
  EXPECT_EQ(decoded.answer.tool_calls[0].id, "call_abc");
  EXPECT_EQ(decoded.answer.tool_calls[0].name, "get_weather");
  EXPECT_EQ(decoded.answer.tool_calls[0].arguments, "{\"city\": \"Paris, 日本\"}");
  EXPECT_EQ(decoded.answer.tool_calls[1].id, "call_def");
  EXPECT_EQ(decoded.answer.tool_calls[1].name, "get_time");
  EXPECT_EQ(decoded.answer.tool_calls[1].arguments, "{\"tz\":\"Europe/Paris\"}");
}

TEST(OpenAiToolsTest, ReasoningIsNotPartOfTheText) {
  const std::string body = Chunk(R"({"role":"assistant","content":"","reasoning_content":"Let me "})") +
                           Chunk(R"({"content":null,"reasoning_content":"think."})") +
                           Chunk(R"({"content":null,"reasoning":"[OpenRouter]"})") +
                           Chunk(R"({"content":"Hi","reasoning_content":null})") + Chunk("{}", "\"stop\"") +
                           "data: [DONE]\n\n";
  const auto decoded = DecodeAtEveryBoundary(WireProtocol::Framing::kSse, Make, body);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.message();
  EXPECT_EQ(decoded.reasoning, "Let me think.[OpenRouter]");
  EXPECT_EQ(decoded.text, "Hi");
  EXPECT_EQ(decoded.answer.finish_reason, "stop");
}

TEST(OpenAiToolsTest, ARefusalIsRecordedAndTheAnswerStillFinishes) {
  const std::string body = Chunk(R"({"role":"assistant","content":null,"refusal":""})") +
                           Chunk(R"({"refusal":"I can't help "})") + Chunk(R"({"refusal":"with that."})") +
                           Chunk("{}", "\"stop\"") + "data: [DONE]\n\n";
  const auto decoded = DecodeAtEveryBoundary(WireProtocol::Framing::kSse, Make, body);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.message();
  EXPECT_TRUE(decoded.answer.finished);
  EXPECT_EQ(decoded.text, "");
  EXPECT_EQ(decoded.answer.refusal, "I can't help with that.");
}

TEST(OpenAiToolsTest, TheFastScannerDeclinesExtrasButNotTheirNulls) {
  ScannedChunk scanned;
  EXPECT_TRUE(ScanOpenAiChunk(R"({"choices":[{"delta":{"content":"a","tool_calls":null,"reasoning_content":null}}]})",
                              &scanned));
  EXPECT_EQ(scanned.content, "a");
  for (const char* data :
       {R"({"choices":[{"delta":{"tool_calls":[{"index":0}]}}]})", R"({"choices":[{"delta":{"reasoning_content":"x"}}]})",
        R"({"choices":[{"delta":{"reasoning":"x"}}]})", R"({"choices":[{"delta":{"refusal":"x"}}]})"}) {
    EXPECT_FALSE(ScanOpenAiChunk(data, &scanned)) << data;
  }
}

TEST(OpenAiToolsTest, AFragmentWithoutIndexTakesItsPosition) {
  OpenAiChunk chunk;
  ASSERT_TRUE(ParseOpenAiChunk(
                  R"({"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}},{"id":"b","function":{"name":"g"}}]}}]})",
                  &chunk)
                  .ok());
  ASSERT_EQ(chunk.tool_calls.size(), 2u);
  EXPECT_EQ(chunk.tool_calls[0].index, 0);
  EXPECT_EQ(chunk.tool_calls[1].index, 1);
  EXPECT_EQ(chunk.tool_calls[1].name, "g");
  EXPECT_EQ(chunk.tool_calls[1].arguments, "");
}

TEST(OpenAiToolsTest, TooManyToolCallsEndTheStreamWithTheLimitsName) {
  std::string calls;
  for (int i = 0; i <= 64; ++i) {
    if (i > 0) calls += ",";
    calls += "{\"index\":" + std::to_string(i) + ",\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}";
  }
  auto decoder = MakeOpenAiDecoder();
  DecodedMessage message;
  const Status status =
      decoder->Decode("", "{\"choices\":[{\"delta\":{\"tool_calls\":[" + calls + "]}}]}", &message);
  EXPECT_EQ(status.message(), "upstream sent more than 64 tool calls in one answer (the limit)");
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
}

TEST(OpenAiToolsTest, AnErrorEventIsAnUpstreamError) {
  auto decoder = MakeOpenAiDecoder();
  DecodedMessage message;
  const Status status = decoder->Decode("error", R"({"error":{"message":"Rate limit reached"}})", &message);
  EXPECT_EQ(status.message(), "upstream error: Rate limit reached");
  EXPECT_EQ(message.fault, StreamFault::kUpstreamError);
  EXPECT_FALSE(message.retryable);
}

TEST(OpenAiToolsTest, TheBodyCarriesToolsToolMessagesTopPAndTheSchema) {
  ChatRequest request;
  request.model = "gpt-4o";
  request.top_p = 0.5;
  request.messages = {{"user", "Weather in Paris?"}};
  ChatMessage assistant{"assistant", ""};
  assistant.tool_calls = {{"call_1", "get_weather", "{\"city\":\"Paris\"}"}};
  request.messages.push_back(assistant);
  ChatMessage result{"tool", "{\"temp\":21}"};
  result.tool_call_id = "call_1";
  request.messages.push_back(result);
  request.tools = {{"get_weather", "Current weather", json{{"type", "object"}}}};
  request.output_schema = json{{"type", "object"}, {"required", {"answer"}}};
  request.output_schema_name = "reply";
  const json body = json::parse(BuildChatRequestBody(request));
  EXPECT_EQ(body["top_p"], 0.5);
  EXPECT_EQ(body["messages"][1], json::parse(R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1",
      "type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]})"));
  EXPECT_EQ(body["messages"][2], json::parse(R"({"role":"tool","content":"{\"temp\":21}","tool_call_id":"call_1"})"));
  EXPECT_EQ(body["tools"], json::parse(R"([{"type":"function","function":{"name":"get_weather",
      "description":"Current weather","parameters":{"type":"object"}}}])"));
  EXPECT_EQ(body["response_format"], json::parse(R"({"type":"json_schema","json_schema":{"name":"reply",
      "schema":{"type":"object","required":["answer"]},"strict":false}})"))
      << "an object that does not forbid other keys cannot be strict";
}

TEST(OpenAiToolsTest, StrictOnlyForSchemasOpenAiAcceptsAsStrict) {
  auto strict = [](const char* schema) {
    ChatRequest request;
    request.model = "m";
    request.output_schema = json::parse(schema);
    return json::parse(BuildChatRequestBody(request))["response_format"]["json_schema"]["strict"].get<bool>();
  };
  EXPECT_TRUE(strict(R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"array","items":{"type":"object",
      "properties":{"c":{"type":"number"}},"required":["c"],"additionalProperties":false}}},"required":["a","b"],
      "additionalProperties":false})"));
  EXPECT_FALSE(strict(R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["a"],
      "additionalProperties":false})")) << "b is optional";
  EXPECT_FALSE(strict(R"({"type":"object","properties":{"a":{"type":"object","properties":{"c":{"type":"number"}},
      "required":["c"]}},"required":["a"],"additionalProperties":false})")) << "the nested object allows other keys";
  EXPECT_TRUE(strict(R"({"enum":["x","y"]})"));
}

TEST(OpenAiToolsTest, APlainBodyHasNoToolKeys) {
  ChatRequest request;
  request.model = "m";
  request.messages = {{"user", "hi"}};
  const json body = json::parse(BuildChatRequestBody(request));
  EXPECT_FALSE(body.contains("tools"));
  EXPECT_FALSE(body.contains("response_format"));
  EXPECT_EQ(body["messages"][0], json::parse(R"({"role":"user","content":"hi"})"));
}

}  // namespace
}  // namespace flowrun
