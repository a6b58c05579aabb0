// The ollama provider's format without a socket: a recorded-format NDJSON
// chat stream (thinking, content, whole tool calls, the done line with its
// counts) split at every byte boundary; error lines; a stream without its
// done line; the line limit; the body.
#include "llm/ollama_wire.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "llm/decode_test_support.h"
#include "llm/ndjson_line_parser.h"

namespace flowrun {
namespace {

using nlohmann::json;
using testing::DecodeAtEveryBoundary;

std::unique_ptr<StreamDecoder> Make() { return std::make_unique<OllamaDecoder>(); }

std::string Line(const std::string& message, bool done = false) {
  return R"({"model":"qwen3:8b","created_at":"2025-06-01T12:00:00.123456Z","message":)" + message +
         ",\"done\":" + (done ? "true" : "false") + "}\n";
}

const std::string kDone =
    R"({"model":"qwen3:8b","created_at":"2025-06-01T12:00:02.5Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000})"
    "\n";

TEST(OllamaWireTest, RecordedStreamAtEveryBoundary) {
  const std::string body =
      Line(R"({"role":"assistant","content":"","thinking":"Let me"})") +
      Line(R"({"role":"assistant","content":"","thinking":" think."})") +
      Line(R"({"role":"assistant","content":"H\u00e9llo"})") + "\r\n" +
      Line(R"({"role":"assistant","content":" 日本"})") +
      Line(R"({"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Tokyo"}}},{"function":{"name":"get_time","arguments":{"tz":"Asia/Tokyo","24h":true}}}]})") +
      kDone;
  const auto decoded = DecodeAtEveryBoundary(WireProtocol::Framing::kNdjson, Make, body);
  EXPECT_TRUE(decoded.status.ok()) << decoded.status.message();
  EXPECT_TRUE(decoded.ended);
  EXPECT_TRUE(decoded.answer.finished);
  EXPECT_EQ(decoded.reasoning, "Let me think.");
  EXPECT_EQ(decoded.text, "H\u00e9llo 日本");
  EXPECT_EQ(decoded.answer.prompt_tokens, 26);
  EXPECT_EQ(decoded.answer.completion_tokens, 282);
  EXPECT_EQ(decoded.answer.finish_reason, "tool_calls") << "Ollama's stop after tool calls";
  ASSERT_EQ(decoded.answer.tool_calls.size(), 2u);
  EXPECT_EQ(decoded.answer.tool_calls[0].id, "call_0");
  EXPECT_EQ(decoded.answer.tool_calls[0].name, "get_weather");
  EXPECT_EQ(decoded.answer.tool_calls[0].arguments, R"({"city":"Tokyo"})");
  EXPECT_EQ(decoded.answer.tool_calls[1].id, "call_1");
  EXPECT_EQ(decoded.answer.tool_calls[1].arguments, R"({"24h":true,"tz":"Asia/Tokyo"})");
}

TEST(OllamaWireTest, DoneReasonsPassThrough) {
  auto decoder = Make();
  const std::string body = Line(R"({"role":"assistant","content":"a"})") +
                           R"({"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"length","eval_count":1})";
  const auto decoded = testing::DecodeInPieces(WireProtocol::Framing::kNdjson, *decoder, body, {});
  EXPECT_TRUE(decoded.ended) << "a last line without its newline still counts";
  EXPECT_EQ(decoded.answer.finish_reason, "length");
}

TEST(OllamaWireTest, AStreamWithoutItsDoneLineIsNotFinished) {
  auto decoder = Make();
  const auto decoded = testing::DecodeInPieces(WireProtocol::Framing::kNdjson, *decoder,
                                               Line(R"({"role":"assistant","content":"Hel"})"), {});
  EXPECT_EQ(decoded.text, "Hel");
  EXPECT_FALSE(decoded.answer.finished);
}

TEST(OllamaWireTest, AnErrorLineIsAnUpstreamError) {
  auto decoder = Make();
  const std::string body = Line(R"({"role":"assistant","content":"Hel"})") +
                           R"({"error":"an error was encountered while running the model: unexpected EOF"})" + "\n";
  const auto decoded = testing::DecodeInPieces(WireProtocol::Framing::kNdjson, *decoder, body, {});
  EXPECT_EQ(decoded.status.message(),
            "upstream error: an error was encountered while running the model: unexpected EOF");
  EXPECT_EQ(decoded.status.code(), StatusCode::kUpstreamError);
  EXPECT_EQ(decoded.text, "Hel");
}

TEST(OllamaWireTest, ANonJsonLineIsMalformed) {
  auto decoder = Make();
  DecodedMessage message;
  const Status status = decoder->Decode("", "<html>", &message);
  EXPECT_EQ(status.message(), "upstream sent a line that is not JSON: <html>");
  EXPECT_EQ(message.fault, StreamFault::kMalformed);
}

TEST(OllamaWireTest, TheLineParserBoundsALine) {
  NdjsonLineParser parser(16);
  std::vector<std::string> lines;
  auto keep = [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  };
  EXPECT_EQ(parser.Feed("{\"a\":1}\n{\"b\"", keep), SseFeedResult::kOk);
  EXPECT_EQ(parser.Feed(":2}\n\n", keep), SseFeedResult::kOk);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(parser.Feed("0123456789", keep), SseFeedResult::kOk);
  EXPECT_EQ(parser.Feed("0123456789", keep), SseFeedResult::kTooLarge);
  EXPECT_EQ(parser.error(), "NDJSON line longer than 16 bytes");
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.Feed("\n", keep), SseFeedResult::kTooLarge);
}

TEST(OllamaWireTest, TheBodyCarriesOptionsFormatToolsAndToolTurns) {
  ChatRequest request;
  request.model = "qwen3:8b";
  request.temperature = 0.3;
  request.top_p = 0.8;
  request.max_tokens = 200;
  request.messages = {{"system", "Be terse."}, {"user", "Weather?"}};
  ChatMessage assistant{"assistant", ""};
  assistant.tool_calls = {{"call_0", "get_weather", "{\"city\":\"Tokyo\"}"}};
  request.messages.push_back(assistant);
  ChatMessage result{"tool", "11C"};
  result.tool_call_id = "call_0";
  request.messages.push_back(result);
  request.tools = {{"get_weather", "Current weather", json{{"type", "object"}}}};
  request.output_schema = json{{"type", "object"}};
  const json body = json::parse(BuildOllamaBody(request));
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["options"], json::parse(R"({"temperature":0.3,"top_p":0.8,"num_predict":200})"));
  EXPECT_EQ(body["format"], json::parse(R"({"type":"object"})"));
  EXPECT_EQ(body["messages"], json::parse(R"([
    {"role":"system","content":"Be terse."},
    {"role":"user","content":"Weather?"},
    {"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Tokyo"}}}]},
    {"role":"tool","content":"11C","tool_name":"get_weather"}])"));
  EXPECT_EQ(body["tools"], json::parse(R"([{"type":"function","function":{"name":"get_weather",
      "description":"Current weather","parameters":{"type":"object"}}}])"));
  ChatRequest plain;
  plain.model = "m";
  const json minimal = json::parse(BuildOllamaBody(plain));
  EXPECT_FALSE(minimal.contains("options"));
  EXPECT_FALSE(minimal.contains("format"));
  EXPECT_FALSE(minimal.contains("tools"));
}

}  // namespace
}  // namespace flowrun
