// Tests for the offline mock provider: exact reply, tokenisation,
// determinism, prompt cancellation, and the usage and finish reason it
// reports (max_tokens cuts the reply).
#include "llm/mock_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Reply(const std::string& said) {
  return "You said: \"" + said +
         "\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one.";
}

ChatRequest RequestSaying(std::vector<ChatMessage> messages) {
  ChatRequest request;
  request.model = "mock";
  request.messages = std::move(messages);
  return request;
}

std::vector<std::string> Tokens(LlmClient& client, const ChatRequest& request, Status* status = nullptr) {
  std::vector<std::string> tokens;
  Status result = client.Stream(request, [&](std::string_view token) {
    if (!token.empty()) tokens.emplace_back(token);  // empty: a flush hint
    return true;
  }, Cancellation());
  if (status != nullptr) *status = result;
  EXPECT_TRUE(result.ok()) << result.message();
  return tokens;
}

std::string Join(const std::vector<std::string>& tokens) {
  std::string text;
  for (const auto& token : tokens) text += token;
  return text;
}

TEST(MockClientTest, EchoesTheLastUserMessageWordByWord) {
  auto client = MakeMockClient({});
  const auto tokens = Tokens(*client, RequestSaying({{"user", "hello world"}}));
  EXPECT_EQ(Join(tokens), Reply("hello world"));
  ASSERT_GE(tokens.size(), 5u);
  EXPECT_EQ(tokens[0], "You");
  EXPECT_EQ(tokens[1], " said:");
  EXPECT_EQ(tokens[2], " \"hello");
  EXPECT_EQ(tokens[3], " world\".");
  EXPECT_EQ(tokens[4], " This");
  EXPECT_EQ(tokens.back(), " one.");
}

TEST(MockClientTest, PicksTheLastUserMessageAndKeepsItsWhitespace) {
  auto client = MakeMockClient({});
  const auto request = RequestSaying({{"system", "Be kind."},
                                      {"user", "first"},
                                      {"assistant", "ok"},
                                      {"user", "  two\nlines  日本 "},
                                      {"assistant", "pending"}});
  const auto tokens = Tokens(*client, request);
  EXPECT_EQ(Join(tokens), Reply("  two\nlines  日本 "));
  for (const auto& token : tokens) EXPECT_FALSE(token.empty());
}

TEST(MockClientTest, WithoutUserMessageQuotesNothing) {
  auto client = MakeMockClient({});
  EXPECT_EQ(Join(Tokens(*client, RequestSaying({{"system", "x"}}))), Reply(""));
  EXPECT_EQ(Join(Tokens(*client, RequestSaying({}))), Reply(""));
}

TEST(MockClientTest, IsDeterministic) {
  auto client = MakeMockClient({});
  const auto request = RequestSaying({{"user", "same input"}});
  EXPECT_EQ(Tokens(*client, request), Tokens(*client, request));
  EXPECT_EQ(Tokens(*client, request), Tokens(*MakeMockClient({}), request));
}

TEST(MockClientTest, DelaysEachToken) {
  auto client = MakeMockClient({.delay_ms = 5});
  const auto start = Clock::now();
  const auto tokens = Tokens(*client, RequestSaying({{"user", "hi"}}));
  EXPECT_GE(Clock::now() - start, milliseconds(5) * tokens.size());
}

TEST(MockClientTest, CancellationIsPromptEvenWithLongDelays) {
  auto client = MakeMockClient({.delay_ms = 5000});
  Cancellation cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    cancel.Cancel();
  });
  const auto start = Clock::now();
  int tokens = 0;
  Status status = client->Stream(RequestSaying({{"user", "hi"}}), [&](std::string_view) {
    ++tokens;
    return true;
  }, cancel);
  canceller.join();
  EXPECT_EQ(status.message(), "cancelled");
  EXPECT_EQ(tokens, 0);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST(MockClientTest, StopsWhenTheConsumerIsGone) {
  auto client = MakeMockClient({});
  int tokens = 0;
  Status status = client->Stream(RequestSaying({{"user", "hi"}}), [&](std::string_view) { return ++tokens < 3; },
                                 Cancellation());
  EXPECT_EQ(status.message(), "cancelled");
  EXPECT_EQ(tokens, 3);
}

TEST(MockClientTest, DescribesItself) {
  EXPECT_EQ(MakeMockClient({})->Describe(), "mock (offline)");
  EXPECT_EQ(MakeMockClient({.delay_ms = 40})->Describe(), "mock (offline), 40 ms per token");
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

// Paced tokens are flushed one by one; unpaced ones once, at the end.
TEST(MockClientTest, FlushHintsFollowThePacing) {
  for (int delay : {0, 1}) {
    auto client = MakeMockClient({delay});
    std::string pattern;
    ASSERT_TRUE(client->Stream(RequestSaying({{"user", "a b"}}), [&](std::string_view text) {
      pattern += text.empty() ? "F" : "t";
      return true;
    }, Cancellation()).ok());
    EXPECT_EQ(pattern, delay == 0 ? std::string(pattern.size() - 1, 't') + "F"
                                  : [&] {
                                      std::string paced;
                                      for (size_t i = 0; i < pattern.size() / 2; ++i) paced += "tF";
                                      return paced;
                                    }());
  }
}

// Prompt tokens are the words sent, completion tokens those streamed.
TEST(MockClientTest, ReportsUsageAndFinishReason) {
  auto client = MakeMockClient({});
  ChatRequest request = RequestSaying({{"system", "Be kind."}, {"user", "  hello   big\nworld "}});
  request.mock_reply = "one two three";
  StreamStats stats;
  std::vector<std::string> tokens;
  const DeltaCallback collect = [&](std::string_view token) {
    if (!token.empty()) tokens.emplace_back(token);
    return true;
  };
  ASSERT_TRUE(client->StreamWithStats(request, collect, Cancellation(), &stats).ok());
  EXPECT_EQ(tokens, (std::vector<std::string>{"one", " two", " three"}));
  EXPECT_EQ(stats.prompt_tokens, 5);
  EXPECT_EQ(stats.completion_tokens, 3);
  EXPECT_EQ(stats.finish_reason, "stop");

  request.max_tokens = 2;
  tokens.clear();
  ASSERT_TRUE(client->StreamWithStats(request, collect, Cancellation(), &stats).ok());
  EXPECT_EQ(tokens, (std::vector<std::string>{"one", " two"}));
  EXPECT_EQ(stats.completion_tokens, 2);
  EXPECT_EQ(stats.finish_reason, "length");

  request.max_tokens = 3;  // exactly enough: not cut
  ASSERT_TRUE(client->StreamWithStats(request, collect, Cancellation(), &stats).ok());
  EXPECT_EQ(stats.finish_reason, "stop");
}

}  // namespace
}  // namespace flowrun
