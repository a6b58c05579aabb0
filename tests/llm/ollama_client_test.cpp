// The ollama client end to end through the curl driver against the fake
// upstream on 127.0.0.1: the request (path, NDJSON, options), a streamed
// answer with usage, an error line, a stream without its done line, an
// HTTP error body, a 503 retried, and a cancellation mid-stream that aborts
// the transfer.
#include "llm/ollama_client.h"

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
using testing::Outcome;
using testing::RunStream;
using Clock = std::chrono::steady_clock;

std::string Content(const std::string& text) {
  return R"({"model":"llama3.2","created_at":"2025-06-01T12:00:00Z","message":{"role":"assistant","content":")" + text +
         R"("},"done":false})" + "\n";
}
const std::string kDone =
    R"({"model":"llama3.2","created_at":"2025-06-01T12:00:01Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":9,"eval_count":4})"
    "\n";

FakeUpstreamScript Stream(std::vector<std::string> pieces,
                          FakeUpstreamScript::End end = FakeUpstreamScript::End::kComplete) {
  FakeUpstreamScript script;
  script.content_type = "application/x-ndjson";
  script.pieces = std::move(pieces);
  script.end = end;
  return script;
}

class OllamaClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<LlmClient> Client(std::string key = "") {
    OpenAiConfig config;
    config.base_url = "http://127.0.0.1:" + std::to_string(upstream_.port());
    config.api_key = std::move(key);
    config.retry_initial_ms = 10;
    config.retry_max_ms = 40;
    return MakeOllamaClient(config);
  }
  FakeOpenAiUpstream upstream_;
};

TEST_F(OllamaClientTest, StreamsTheAnswerAndSendsWhatOllamaExpects) {
  upstream_.SetScript(Stream({Content("Hel"), Content("lo"), kDone}));
  auto client = Client();
  ChatRequest request = testing::HelloRequest();
  request.max_tokens = 64;
  std::vector<std::string> deltas;
  StreamStats stats;
  const Status status = client->StreamWithStats(
      request,
      [&](std::string_view text) {
        if (!text.empty()) deltas.emplace_back(text);
        return true;
      },
      Cancellation(), &stats);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(deltas, (std::vector<std::string>{"Hel", "lo"}));
  EXPECT_EQ(stats.finish_reason, "stop");
  EXPECT_EQ(stats.prompt_tokens, 9);
  EXPECT_EQ(stats.completion_tokens, 4);
  const auto recorded = upstream_.last_request();
  EXPECT_EQ(recorded.path, "/api/chat");
  EXPECT_EQ(recorded.Header("Accept"), "application/x-ndjson");
  EXPECT_FALSE(recorded.HasHeader("Authorization"));
  const auto body = nlohmann::json::parse(recorded.body);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["options"]["num_predict"], 64);
  EXPECT_EQ(body["messages"][0], nlohmann::json::parse(R"({"role":"system","content":"You are terse."})"));
  EXPECT_EQ(client->Describe(), "ollama at http://127.0.0.1:" + std::to_string(upstream_.port()));
}

TEST_F(OllamaClientTest, AKeyGoesInABearerHeader) {
  upstream_.SetScript(Stream({kDone}));
  auto client = Client(testing::kTestKey);
  ASSERT_TRUE(RunStream(*client).status.ok());
  EXPECT_EQ(upstream_.last_request().Header("Authorization"), std::string("Bearer ") + testing::kTestKey);
}

TEST_F(OllamaClientTest, AnErrorLineEndsTheAnswer) {
  upstream_.SetScript(Stream({Content("Hel"), R"({"error":"model runner has unexpectedly stopped"})" "\n"}));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream error: model runner has unexpectedly stopped");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kUpstreamError);
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel"}));
}

TEST_F(OllamaClientTest, AStreamWithoutItsDoneLineIsTruncated) {
  upstream_.SetScript(Stream({Content("Hel"), Content("lo")}));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream stream ended before the answer finished");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kTruncated);
}

TEST_F(OllamaClientTest, AnHttpErrorBodyIsReadable) {
  upstream_.SetScript(HttpError(404, R"({"error":"model 'llama9' not found, try pulling it first"})"));
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream returned HTTP 404: model 'llama9' not found, try pulling it first");
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(OllamaClientTest, A503BeforeTheFirstChunkIsRetried) {
  upstream_.SetScripts({HttpError(503, R"({"error":"server busy"})"), Stream({Content("ok"), kDone})});
  auto client = Client();
  const Outcome outcome = RunStream(*client);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(outcome.stats.attempts, 2);
}

TEST_F(OllamaClientTest, CancellingMidStreamAbortsTheTransfer) {
  FakeUpstreamScript script = Stream({Content("Hel"), Content("lo")}, FakeUpstreamScript::End::kRepeatLast);
  upstream_.SetScript(script);
  auto client = Client();
  Cancellation cancel;
  int deltas = 0;
  const Status status = client->Stream(
      testing::HelloRequest(),
      [&](std::string_view text) {
        if (!text.empty() && ++deltas == 3) cancel.Cancel();
        return true;
      },
      cancel);
  EXPECT_EQ(status.message(), "cancelled");
  EXPECT_GE(deltas, 3);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!upstream_.client_gone_at() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(upstream_.client_gone_at().has_value()) << "the fake never saw the transfer end within 10 s";
}

}  // namespace
}  // namespace flowrun
