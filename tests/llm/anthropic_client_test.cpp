// The anthropic client end to end through the curl driver against the fake
// upstream on 127.0.0.1: the request Anthropic expects, a streamed answer
// with usage, 529 and overloaded_error retried only before the first chunk,
// a stream without message_stop, error bodies without the key, and a
// cancellation mid-stream that aborts the transfer.
#include "llm/anthropic_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/fake_openai_upstream.h"
#include "llm/openai_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::HttpError;
using testing::kTestKey;
using testing::Outcome;
using testing::RunStream;
using Clock = std::chrono::steady_clock;

std::string Event(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}
const std::string kStart = Event(
    "message_start",
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":12,"output_tokens":1}}})");
const std::string kBlock = Event(
    "content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
std::string Text(const std::string& text) {
  return Event("content_block_delta",
               R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" + text + R"("}})");
}
const std::string kEnd =
    Event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
    Event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}})") +
    Event("message_stop", R"({"type":"message_stop"})");
const std::string kOverloaded =
    Event("error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");

FakeUpstreamScript Stream(std::vector<std::string> pieces,
                          FakeUpstreamScript::End end = FakeUpstreamScript::End::kComplete) {
  FakeUpstreamScript script;
  script.pieces = std::move(pieces);
  script.end = end;
  return script;
}

class AnthropicClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<LlmClient> Client() {
    OpenAiConfig config;
    config.base_url = "http://127.0.0.1:" + std::to_string(upstream_.port()) + "/";
    config.api_key = kTestKey;
    config.retry_initial_ms = 10;
    config.retry_max_ms = 40;
    return MakeAnthropicClient(config);
  }
  FakeOpenAiUpstream upstream_;
};

TEST_F(AnthropicClientTest, StreamsTheAnswerAndSendsWhatAnthropicExpects) {
  upstream_.SetScript(Stream({kStart + kBlock, Event("ping", R"({"type":"ping"})") + Text("Hel"), Text("lo"), kEnd}));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel", "lo"}));
  EXPECT_EQ(outcome.stats.finish_reason, "stop");
  EXPECT_EQ(outcome.stats.prompt_tokens, 12);
  EXPECT_EQ(outcome.stats.completion_tokens, 7);
  EXPECT_EQ(outcome.stats.attempts, 1);
  const auto request = upstream_.last_request();
  EXPECT_EQ(request.path, "/v1/messages");
  EXPECT_EQ(request.Header("x-api-key"), kTestKey);
  EXPECT_EQ(request.Header("anthropic-version"), "2023-06-01");
  EXPECT_FALSE(request.HasHeader("Authorization"));
  const auto body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body["system"], "You are terse.");
  EXPECT_EQ(body["max_tokens"], 1024);
  EXPECT_EQ(body["messages"], nlohmann::json::parse(R"([{"role":"user","content":"Say hello"}])"));
  EXPECT_EQ(client->Describe(), "anthropic at http://127.0.0.1:" + std::to_string(upstream_.port()));
}

TEST_F(AnthropicClientTest, Http529IsRetried) {
  upstream_.SetScripts(
      {HttpError(529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
       Stream({kStart + kBlock + Text("ok") + kEnd})});
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(outcome.stats.attempts, 2);
  EXPECT_EQ(upstream_.request_count(), 2);
}

TEST_F(AnthropicClientTest, GivingUpOn529SaysWhy) {
  upstream_.SetScript(HttpError(529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream returned HTTP 529: overloaded_error: Overloaded (gave up after 3 attempts)");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kHttpStatus);
  EXPECT_EQ(upstream_.request_count(), 3);
}

TEST_F(AnthropicClientTest, OverloadedEventBeforeTheFirstChunkIsRetried) {
  upstream_.SetScripts({Stream({kStart, kOverloaded}), Stream({kStart + kBlock + Text("ok") + kEnd})});
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(outcome.stats.attempts, 2);
}

TEST_F(AnthropicClientTest, OverloadedEventAfterTheFirstChunkIsFinal) {
  upstream_.SetScripts({Stream({kStart + kBlock + Text("Hel"), kOverloaded}), Stream({kStart + kBlock + Text("ok") + kEnd})});
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream error: overloaded_error: Overloaded");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kUpstreamError);
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel"}));
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(AnthropicClientTest, AStreamWithoutMessageStopIsTruncated) {
  upstream_.SetScript(Stream({kStart + kBlock + Text("Hel") +
                              Event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"}})")}));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream stream ended before the answer finished");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kTruncated);
  EXPECT_EQ(upstream_.request_count(), 1) << "text was delivered: no retry";
}

TEST_F(AnthropicClientTest, ErrorBodiesAreReadableAndNeverShowTheKey) {
  upstream_.SetScript(HttpError(
      401, std::string(R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key )") +
               kTestKey + R"("}})"));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream returned HTTP 401: authentication_error: invalid x-api-key [redacted]");
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(AnthropicClientTest, CancellingMidStreamAbortsTheTransfer) {
  upstream_.SetScript(Stream({kStart + kBlock + Text("Hel")}, FakeUpstreamScript::End::kTrickle));
  auto client = Client();
  Cancellation cancel;
  std::vector<std::string> deltas;
  const Status status = client->Stream(
      testing::HelloRequest(),
      [&](std::string_view text) {
        if (!text.empty()) {
          deltas.emplace_back(text);
          cancel.Cancel();
        }
        return true;
      },
      cancel);
  EXPECT_EQ(status.message(), "cancelled");
  EXPECT_EQ(deltas, (std::vector<std::string>{"Hel"}));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!upstream_.client_gone_at() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(upstream_.client_gone_at().has_value()) << "the fake never saw the transfer end within 10 s";
}

}  // namespace
}  // namespace flowrun
