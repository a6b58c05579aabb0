// Tests for the OpenAI wire-format helpers: chunk parsing, error bodies,
// request bodies and secret scrubbing.
#include "llm/openai_wire.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace flowrun {
namespace {

TEST(OpenAiWireTest, ParsesContentDeltasAndFinishReason) {
  OpenAiChunk chunk;
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{"content":"hé"},"finish_reason":null}]})", &chunk).ok());
  EXPECT_EQ(chunk.content, "hé");
  EXPECT_FALSE(chunk.finished);
  EXPECT_FALSE(chunk.done);

  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{},"finish_reason":"length"}]})", &chunk).ok());
  EXPECT_EQ(chunk.content, "");
  EXPECT_TRUE(chunk.finished);

  ASSERT_TRUE(ParseOpenAiChunk("[DONE]", &chunk).ok());
  EXPECT_TRUE(chunk.done);
}

TEST(OpenAiWireTest, SkipsRoleOnlyNullAndChoicelessChunks) {
  OpenAiChunk chunk;
  for (const char* data : {R"({"choices":[{"delta":{"role":"assistant"}}]})",
                           R"({"choices":[{"delta":{"content":null}}]})", R"({"choices":[]})",
                           R"({"usage":{"total_tokens":3}})", R"({"choices":[{"delta":{"content":42}}]})"}) {
    ASSERT_TRUE(ParseOpenAiChunk(data, &chunk).ok()) << data;
    EXPECT_EQ(chunk.content, "") << data;
    EXPECT_FALSE(chunk.finished) << data;
  }
}

TEST(OpenAiWireTest, ReportsErrorsAndNonJson) {
  OpenAiChunk chunk;
  Status status = ParseOpenAiChunk(R"({"error":{"message":"Rate limit reached","type":"requests"}})", &chunk);
  EXPECT_EQ(status.message(), "upstream error: Rate limit reached");
  status = ParseOpenAiChunk(R"({"error":"overloaded"})", &chunk);
  EXPECT_EQ(status.message(), "upstream error: overloaded");
  status = ParseOpenAiChunk("<html>" + std::string(200, 'x'), &chunk);
  EXPECT_EQ(status.message(), "upstream sent a data line that is not JSON: <html>" + std::string(74, 'x') + "...");
}

TEST(OpenAiWireTest, ExtractsMessagesFromErrorBodies) {
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":{"message":"Incorrect API key provided"}})"),
            "Incorrect API key provided");
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":"model not found"})"), "model not found");
  EXPECT_EQ(UpstreamErrorMessage(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(UpstreamErrorMessage("  Bad gateway\n"), "Bad gateway");
  EXPECT_EQ(UpstreamErrorMessage(""), "");
  // As @dwmkerr/mock-llm answers a request it cannot template:
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":"SyntaxError","message":"Expected ',' at 171","status":500})"),
            "SyntaxError: Expected ',' at 171");
  EXPECT_EQ(UpstreamErrorMessage(std::string(300, 'a')), std::string(200, 'a') + "...");
}

TEST(OpenAiWireTest, AbbreviateNeverSplitsACharacter) {
  const std::string text = "ab日本";  // 2 + 3 + 3 bytes
  EXPECT_EQ(Abbreviate(text, 4), "ab...");
  EXPECT_EQ(Abbreviate(text, 5), "ab日...");
  EXPECT_EQ(Abbreviate(text, 8), "ab日本");
  EXPECT_EQ(Abbreviate("line1\nline2", 50), "line1 line2");
}

TEST(OpenAiWireTest, RedactsEveryOccurrence) {
  EXPECT_EQ(RedactSecret("key sk-1 and sk-1", "sk-1"), "key [redacted] and [redacted]");
  EXPECT_EQ(RedactSecret("nothing", ""), "nothing");
}

TEST(OpenAiWireTest, UrlForDisplayDropsUserInfo) {
  EXPECT_EQ(UrlForDisplay("https://user:pw@example.com/v1"), "https://example.com/v1");
  EXPECT_EQ(UrlForDisplay("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080/v1");
  EXPECT_EQ(UrlForDisplay("http://host/v1?x=a@b"), "http://host/v1?x=a@b");
}

TEST(OpenAiWireTest, BuildsStreamingRequestBody) {
  ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {{"system", "Be brief."}, {"user", "héllo \"you\""}};
  auto body = nlohmann::json::parse(BuildChatRequestBody(request));
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["messages"][1]["content"], "héllo \"you\"");
  EXPECT_FALSE(body.contains("temperature"));
  EXPECT_FALSE(body.contains("max_tokens"));

  request.temperature = 0.25;
  request.max_tokens = 64;
  body = nlohmann::json::parse(BuildChatRequestBody(request));
  EXPECT_EQ(body["temperature"], 0.25);
  EXPECT_EQ(body["max_tokens"], 64);
}

}  // namespace
}  // namespace flowrun
