// Tests for the OpenAI client against FakeOpenAiUpstream on 127.0.0.1:
// streaming, request shape, upstream failures, secrets and cancellation.
// Retries are in openai_retry_test.cpp, timeouts and hostile bodies in
// openai_faults_test.cpp.
#include "llm/openai_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fakes/fake_openai_upstream.h"
#include "llm/openai_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::OpenAiDeltaEvent;
using testing::OpenAiFinishEvent;
using testing::HelloRequest;
using testing::Outcome;
using testing::RunStream;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kKey = "sk-test-5up3r-s3cr3t";
const std::vector<std::string> kRecordedDeltas = {"Hello", "! ", "héllo", " 日本語", " 🎉",
                                                  " café", " He said \"hi\"\nthen left.", " Done."};

std::string ReadTestData(const std::string& name) {
  std::ifstream file(std::string(FLOWRUN_TEST_DATA) + "/" + name, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Splits `text` right after the first byte of each of `markers`.
std::vector<std::string> SplitInside(const std::string& text, const std::vector<std::string>& markers) {
  std::vector<std::size_t> cuts;
  for (const auto& marker : markers) {
    const std::size_t at = text.find(marker);
    EXPECT_NE(at, std::string::npos) << marker;
    if (at != std::string::npos) cuts.push_back(at + 1);
  }
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::string> pieces;
  std::size_t start = 0;
  for (std::size_t cut : cuts) {
    pieces.push_back(text.substr(start, cut - start));
    start = cut;
  }
  pieces.push_back(text.substr(start));
  return pieces;
}


class OpenAiClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<LlmClient> Client(std::string api_key = kKey, OpenAiConfig config = {}) {
    config.base_url = upstream_.base_url();
    config.api_key = std::move(api_key);
    return MakeOpenAiClient(std::move(config));
  }

  static Outcome Run(LlmClient& client, const Cancellation& cancel = Cancellation(), int stop_after = -1) {
    return RunStream(client, cancel, stop_after);
  }

  FakeOpenAiUpstream upstream_;
};

TEST_F(OpenAiClientTest, StreamsRecordedDeltasSplitInsideCharacters) {
  const std::string stream = ReadTestData("openai_stream.txt");
  // Cuts fall inside "é", "日", "本" and "🎉", and between the two "\n" of an event end.
  const auto pieces =
      SplitInside(stream, {"héllo", "é", "日本", "本", "🎉", "\\\"hi", "\n\ndata: [DONE]", "[DONE]"});
  upstream_.SetStream(pieces, FakeUpstreamScript::End::kComplete, milliseconds(3));
  auto client = Client();
  const Outcome outcome = Run(*client);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, kRecordedDeltas);
}

TEST_F(OpenAiClientTest, StreamsCrLfRecordingInSmallPieces) {
  const std::string stream = ReadTestData("openai_stream_crlf.txt");
  std::vector<std::string> pieces;
  for (std::size_t i = 0; i < stream.size(); i += 97) pieces.push_back(stream.substr(i, 97));
  upstream_.SetStream(pieces);
  auto client = Client();
  const Outcome outcome = Run(*client);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, kRecordedDeltas);
}

// curl reads the body in receive buffers of a few KiB (curl_handles.cpp
// sizes them for SSE), so one long event reaches the parser in many pieces,
// cut inside UTF-8 and escapes; it must come out whole.
TEST_F(OpenAiClientTest, StreamsAnEventMuchLongerThanTheReceiveBuffer) {
  std::string long_delta;
  while (long_delta.size() < 300 * 1024) long_delta += "héllo 日本語 \"quoted\"\n 🎉 ";
  const std::string line = OpenAiDeltaEvent(long_delta);
  ASSERT_GT(line.size(), 300u * 1024);
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), line, OpenAiDeltaEvent(" end"), testing::kOpenAiDoneEvent});
  auto client = Client();
  const Outcome outcome = Run(*client);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  ASSERT_EQ(outcome.deltas.size(), 3u);
  EXPECT_EQ(outcome.deltas[0], "Hi");
  EXPECT_TRUE(outcome.deltas[1] == long_delta) << "the long delta came out as " << outcome.deltas[1].size()
                                               << " bytes instead of " << long_delta.size();
  EXPECT_EQ(outcome.deltas[2], " end");
}

TEST_F(OpenAiClientTest, SendsTheRequestOpenAiExpects) {
  upstream_.SetStream({OpenAiDeltaEvent("hi"), testing::kOpenAiDoneEvent});
  auto client = Client();
  ChatRequest request = HelloRequest();
  request.temperature = 0.5;
  request.max_tokens = 32;
  ASSERT_TRUE(client->Stream(request, [](std::string_view) { return true; }, Cancellation()).ok());

  const testing::RecordedRequest recorded = upstream_.last_request();
  EXPECT_EQ(recorded.method, "POST");
  EXPECT_EQ(recorded.path, "/v1/chat/completions");
  EXPECT_EQ(recorded.Header("Authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(recorded.Header("Content-Type"), "application/json");
  EXPECT_EQ(recorded.Header("Accept"), "text/event-stream");
  const auto body = nlohmann::json::parse(recorded.body);
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["temperature"], 0.5);
  EXPECT_EQ(body["max_tokens"], 32);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0], (nlohmann::json{{"role", "system"}, {"content", "You are terse."}}));
  EXPECT_EQ(body["messages"][1], (nlohmann::json{{"role", "user"}, {"content", "Say hello"}}));
}

TEST_F(OpenAiClientTest, OmitsAuthorizationWithoutKeyAndStripsTrailingSlash) {
  upstream_.SetStream({OpenAiDeltaEvent("hi"), testing::kOpenAiDoneEvent});
  OpenAiConfig config;
  config.base_url = upstream_.base_url() + "/";
  auto client = MakeOpenAiClient(config);
  ASSERT_TRUE(Run(*client).status.ok());
  const testing::RecordedRequest recorded = upstream_.last_request();
  EXPECT_FALSE(recorded.HasHeader("Authorization"));
  EXPECT_EQ(recorded.path, "/v1/chat/completions");
  const auto body = nlohmann::json::parse(recorded.body);
  EXPECT_FALSE(body.contains("temperature"));
  EXPECT_FALSE(body.contains("max_tokens"));
}

TEST_F(OpenAiClientTest, ReportsHttpErrorWithItsMessage) {
  FakeUpstreamScript script;
  script.status = 401;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}})"};
  upstream_.SetScript(script);
  auto client = Client();
  const Outcome outcome = Run(*client);
  EXPECT_EQ(outcome.status.message(), "upstream returned HTTP 401: Incorrect API key provided");
  EXPECT_EQ(outcome.status.code(), StatusCode::kUpstreamError);
  EXPECT_TRUE(outcome.deltas.empty());
}

TEST_F(OpenAiClientTest, ReportsPlainTextAndEmptyErrorBodies) {
  FakeUpstreamScript script;
  script.status = 502;
  script.content_type = "text/html";
  script.pieces = {"<html>Bad gateway</html>"};
  upstream_.SetScript(script);
  OpenAiConfig config;
  config.max_attempts = 1;  // retries have tests of their own
  auto client = Client(kKey, config);
  EXPECT_EQ(Run(*client).status.message(), "upstream returned HTTP 502: <html>Bad gateway</html>");

  script.status = 503;
  script.pieces = {};
  script.chunked = false;
  upstream_.SetScript(script);
  EXPECT_EQ(Run(*client).status.message(), "upstream returned HTTP 503");
}

TEST_F(OpenAiClientTest, NeverRevealsTheKey) {
  FakeUpstreamScript script;
  script.status = 401;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {std::string(R"({"error":{"message":"Incorrect API key provided: )") + kKey + R"("}})"};
  upstream_.SetScript(script);
  auto client = Client();
  std::string message = Run(*client).status.message();
  EXPECT_NE(message.find("[redacted]"), std::string::npos) << message;
  EXPECT_EQ(message.find(kKey), std::string::npos) << message;

  // Even where truncation would cut the key in half.
  script.content_type = "text/plain";
  script.pieces = {std::string(190, '.') + kKey + std::string(100, '.')};
  upstream_.SetScript(script);
  message = Run(*client).status.message();
  EXPECT_EQ(message.find("sk-test"), std::string::npos) << message;

  script.status = 200;
  script.content_type = "text/event-stream";
  script.pieces = {std::string("data: {\"error\":{\"message\":\"bad key ") + kKey + "\"}}\n\n"};
  upstream_.SetScript(script);
  message = Run(*client).status.message();
  EXPECT_EQ(message, "upstream error: bad key [redacted]");
  EXPECT_EQ(client->Describe().find(kKey), std::string::npos);
}

TEST_F(OpenAiClientTest, ReportsUnreachableUpstream) {
  std::string dead_url;
  {
    FakeOpenAiUpstream gone;
    dead_url = gone.base_url();
  }
  OpenAiConfig config;
  config.base_url = dead_url;
  config.api_key = kKey;
  config.max_attempts = 1;
  auto client = MakeOpenAiClient(config);
  const Outcome outcome = Run(*client);
  EXPECT_EQ(outcome.status.message().rfind("cannot reach upstream " + dead_url + ": ", 0), 0u)
      << outcome.status.message();
  EXPECT_EQ(outcome.status.code(), StatusCode::kUnavailable);
}

TEST_F(OpenAiClientTest, TruncatedStreamIsAnError) {
  for (auto end : {FakeUpstreamScript::End::kComplete, FakeUpstreamScript::End::kAbort}) {
    upstream_.SetStream({OpenAiDeltaEvent("Hel"), OpenAiDeltaEvent("lo")}, end);
    auto client = Client();
    const Outcome outcome = Run(*client);
    EXPECT_EQ(outcome.status.message().rfind("upstream stream ended before the answer finished", 0), 0u)
        << outcome.status.message();
    EXPECT_EQ(outcome.status.code(), StatusCode::kUpstreamError);
    EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel", "lo"}));
  }
}

TEST_F(OpenAiClientTest, FinishReasonWithoutDoneIsAFinishedAnswer) {
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), OpenAiFinishEvent()});
  auto client = Client();
  EXPECT_TRUE(Run(*client).status.ok());
}

TEST_F(OpenAiClientTest, AcceptsDoneWithoutItsBlankLine) {
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), "data: [DONE]\n"});
  auto client = Client();
  EXPECT_TRUE(Run(*client).status.ok());
}

TEST_F(OpenAiClientTest, DoneFinishesTheAnswerEvenIfTheServerLingers) {
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), testing::kOpenAiDoneEvent, OpenAiDeltaEvent("ignored")},
                      FakeUpstreamScript::End::kHang);
  auto client = Client();
  const auto start = Clock::now();
  const Outcome outcome = Run(*client);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, std::vector<std::string>{"Hi"});
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST_F(OpenAiClientTest, RejectsNonJsonDataLines) {
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), "data: <html>oops</html>\n\n", testing::kOpenAiDoneEvent});
  auto client = Client();
  const Outcome outcome = Run(*client);
  EXPECT_EQ(outcome.status.message(), "upstream sent a data line that is not JSON: <html>oops</html>");
}

TEST_F(OpenAiClientTest, ReportsNonStreamingAnswer) {
  FakeUpstreamScript script;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {R"({"choices":[{"message":{"role":"assistant","content":"hi"}}]})"};
  upstream_.SetScript(script);
  auto client = Client();
  EXPECT_EQ(Run(*client).status.message().rfind("upstream answered without streaming", 0), 0u);
}

TEST_F(OpenAiClientTest, StopsWhenTheConsumerIsGone) {
  upstream_.SetStream({OpenAiDeltaEvent("a"), OpenAiDeltaEvent("b"), OpenAiDeltaEvent("c")},
                      FakeUpstreamScript::End::kHang);
  auto client = Client();
  const auto start = Clock::now();
  const Outcome outcome = Run(*client, Cancellation(), /*stop_after=*/2);
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  EXPECT_EQ(outcome.status.message(), "cancelled");
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"a", "b"}));
}

TEST_F(OpenAiClientTest, CancellationWhileUpstreamHangsIsPrompt) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kHang);
  auto client = Client();
  Cancellation cancel;
  Clock::time_point cancelled_at;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(150));
    cancelled_at = Clock::now();
    cancel.Cancel();
  });
  const Outcome outcome = Run(*client, cancel);
  const auto returned_at = Clock::now();
  canceller.join();
  EXPECT_EQ(outcome.status.message(), "cancelled");
  EXPECT_EQ(outcome.status.code(), StatusCode::kCancelled);
  EXPECT_EQ(upstream_.request_count(), 1);
  EXPECT_LT(returned_at - cancelled_at, milliseconds(1000));
}

TEST_F(OpenAiClientTest, CancelledBeforeStartSendsNothing) {
  auto client = Client();
  Cancellation cancel;
  cancel.Cancel();
  EXPECT_EQ(Run(*client, cancel).status.message(), "cancelled");
  EXPECT_EQ(upstream_.request_count(), 0);
}

TEST_F(OpenAiClientTest, ServesConcurrentStreams) {
  upstream_.SetStream({OpenAiDeltaEvent("one"), OpenAiDeltaEvent(" two"), testing::kOpenAiDoneEvent},
                      FakeUpstreamScript::End::kComplete, milliseconds(5));
  auto client = Client();
  std::vector<Outcome> outcomes(4);
  std::vector<std::thread> threads;
  for (auto& outcome : outcomes) {
    threads.emplace_back([&client, &outcome] {
      for (int i = 0; i < 3; ++i) outcome = Run(*client);  // also reuses the thread's handles
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& outcome : outcomes) {
    EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
    EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"one", " two"}));
  }
  EXPECT_EQ(upstream_.request_count(), 12);
}

// Transfers normally run on the shared upstream loop; a delta callback runs
// there too, so one that streams again must drive its own transfer rather
// than wait for the loop it is blocking.
TEST_F(OpenAiClientTest, DeltaCallbackThatStreamsAgainCompletes) {
  upstream_.SetStream({OpenAiDeltaEvent("one"), OpenAiDeltaEvent(" two"), OpenAiFinishEvent(),
                       testing::kOpenAiDoneEvent});
  auto client = Client();
  std::vector<std::string> outer;
  Outcome inner;
  const Status status = client->Stream(
      HelloRequest(),
      [&](std::string_view text) {
        if (text.empty()) return true;
        if (outer.empty()) inner = Run(*client);
        outer.emplace_back(text);
        return true;
      },
      Cancellation());
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(outer, (std::vector<std::string>{"one", " two"}));
  EXPECT_TRUE(inner.status.ok()) << inner.status.message();
  EXPECT_EQ(inner.deltas, (std::vector<std::string>{"one", " two"}));
  EXPECT_EQ(upstream_.request_count(), 2);
}

TEST(OpenAiClientDescribeTest, NamesTheUrlWithoutSecrets) {
  OpenAiConfig config;
  config.base_url = "https://user:pw@example.com/v1/";
  config.api_key = kKey;
  EXPECT_EQ(MakeOpenAiClient(config)->Describe(), "openai at https://example.com/v1");
}

}  // namespace
}  // namespace flowrun
