// `flowrun serve` as an OpenAI-compatible server, over real sockets: the
// chunk stream and the one-shot completion from the mock model, /v1/models,
// metrics and logs labelled with the flow, heartbeats as comments, a
// failure mid-stream, and a client that hangs up aborting the upstream
// transfer (the fake OpenAI upstream on 127.0.0.1).
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using nlohmann::json;

const std::string kChatFlow = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";
const std::map<std::string, std::optional<std::string>> kOffline = {{"OPENAI_API_KEY", std::nullopt},
                                                                    {"OPENAI_BASE_URL", std::nullopt}};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The data: payloads of an OpenAI stream; fails on any line that is not
// data:, a comment or blank.
std::vector<std::string> DataLines(const std::string& body) {
  std::vector<std::string> data;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == ':') continue;
    EXPECT_EQ(line.rfind("data: ", 0), 0u) << "not a data line: " << line;
    data.push_back(line.substr(6));
  }
  return data;
}

const char kStreamBody[] = R"({"model":"chat","stream":true,"stream_options":{"include_usage":true},
    "messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"hello there"}]})";

TEST(ServeV1, StreamsAChatCompletionFromTheMockModel) {
  const std::string log_path = testing::WriteTempFile("v1.log", "");
  testing::ServeProcess server({kChatFlow}, kOffline, log_path);
  ASSERT_GT(server.port(), 0);
  auto response = testing::RawRequest(server.port(), "POST", "/v1/chat/completions", kStreamBody);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "text/event-stream");
  auto data = DataLines(response.body);
  ASSERT_GE(data.size(), 5u) << response.body;
  EXPECT_EQ(data.back(), "[DONE]");
  std::string text, id;
  int roles = 0, finishes = 0;
  long long created = 0;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    json chunk = json::parse(data[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_EQ(chunk["model"], "chat");
    if (i == 0) {
      id = chunk["id"];
      created = chunk["created"];
    }
    EXPECT_EQ(chunk["id"], id);
    EXPECT_EQ(chunk["created"], created);
    if (i + 2 == data.size()) {  // the usage chunk
      EXPECT_EQ(chunk["choices"], json::array());
      EXPECT_TRUE(chunk["usage"]["prompt_tokens"].is_number_integer());
      EXPECT_EQ(chunk["usage"]["total_tokens"],
                chunk["usage"]["prompt_tokens"].get<long long>() + chunk["usage"]["completion_tokens"].get<long long>());
      continue;
    }
    EXPECT_TRUE(chunk["usage"].is_null());
    EXPECT_TRUE(chunk.contains("usage"));
    const json& choice = chunk["choices"][0];
    if (choice["delta"].contains("role")) ++roles;
    if (!choice["finish_reason"].is_null()) {
      ++finishes;
      EXPECT_EQ(choice["finish_reason"], "stop");
    }
    text += choice["delta"].value("content", "");
  }
  EXPECT_EQ(roles, 1);
  EXPECT_EQ(finishes, 1);
  EXPECT_EQ(json::parse(data[0])["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(text.rfind("You said: \"hello there\".", 0), 0u) << text;

  // Counted and logged under the flow, like the native endpoint.
  auto metrics = testing::RawRequest(server.port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("flowrun_requests_total{flow=\"chat\",status=\"200\"} 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("flowrun_streams_total{flow=\"chat\",outcome=\"done\"} 1"), std::string::npos);
  server.Stop(SIGTERM, std::chrono::seconds(10));
  const std::string log = ReadAll(log_path);
  EXPECT_NE(log.find("POST /v1/chat/completions (chat) 200 stream done"), std::string::npos) << log;
}

TEST(ServeV1, AnswersInOneCompletionAndListsModels) {
  const std::string log_path = testing::WriteTempFile("v1-models.log", "");
  testing::ServeProcess server({kChatFlow}, kOffline, log_path);
  ASSERT_GT(server.port(), 0);
  auto response = testing::RawRequest(server.port(), "POST", "/v1/chat/completions",
                                      R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "application/json");
  json completion = json::parse(response.body);
  EXPECT_EQ(completion["object"], "chat.completion");
  EXPECT_EQ(completion["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(completion["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(completion["choices"][0]["message"]["content"].get<std::string>().rfind("You said: \"hi\".", 0), 0u);
  EXPECT_TRUE(completion["usage"]["completion_tokens"].is_number_integer());

  auto models = testing::RawRequest(server.port(), "GET", "/v1/models");
  EXPECT_EQ(models.status, 200);
  json list = json::parse(models.body);
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], "chat");
  EXPECT_EQ(list["data"][0]["owned_by"], "flowrun");

  auto unknown = testing::RawRequest(server.port(), "POST", "/v1/chat/completions",
                                     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body,
            "{\"error\":{\"message\":\"model 'gpt-4o' is not served here; served models: chat\","
            "\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}\n");
  server.Stop(SIGTERM, std::chrono::seconds(10));
  EXPECT_NE(ReadAll(log_path).find("POST /v1/chat/completions 404: model 'gpt-4o' is not served here"),
            std::string::npos);
}

TEST(ServeV1, HeartbeatsAreCommentsNeverEvents) {
  const std::string flow = testing::WriteTempFile("slow.yaml", R"(version: 1
name: slow
input:
  message: string
steps:
  - type: llm-stream
    mock_delay_ms: 700
    mock_reply: one two
)");
  testing::ServeProcess server({flow, "--heartbeat", "0.2"}, kOffline);
  ASSERT_GT(server.port(), 0);
  auto response = testing::RawRequest(server.port(), "POST", "/v1/chat/completions",
                                      R"({"model":"slow","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.body.find("\n: ping\n\n"), std::string::npos) << response.body;
  EXPECT_EQ(response.body.find("event:"), std::string::npos);
  auto data = DataLines(response.body);
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(data.back(), "[DONE]");
}

class ServeV1UpstreamTest : public ::testing::Test {
 protected:
  void Start() {
    ASSERT_GT(upstream_.port(), 0);
    server_ = std::make_unique<testing::ServeProcess>(
        std::vector<std::string>{kChatFlow},
        std::map<std::string, std::optional<std::string>>{{"OPENAI_BASE_URL", upstream_.base_url()},
                                                          {"OPENAI_API_KEY", "sk-test-secret-42"}},
        log_path_);
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  testing::FakeOpenAiUpstream upstream_;
  std::unique_ptr<testing::ServeProcess> server_;
  std::string log_path_ = testing::WriteTempFile("v1-upstream.log", "");
  int port_ = 0;
};

TEST_F(ServeV1UpstreamTest, AnUpstreamFailureMidStreamIsAnErrorThenDone) {
  upstream_.SetStream({testing::OpenAiDeltaEvent("partial")}, testing::FakeUpstreamScript::End::kAbort);
  Start();
  auto response = testing::RawRequest(port_, "POST", "/v1/chat/completions",
                                      R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(response.status, 200);
  auto data = DataLines(response.body);
  ASSERT_EQ(data.size(), 4u) << response.body;
  EXPECT_EQ(json::parse(data[1])["choices"][0]["delta"]["content"], "partial");
  json error = json::parse(data[2]);
  EXPECT_EQ(error["error"]["type"], "server_error");
  EXPECT_EQ(error["error"]["code"], "flow_failed");
  EXPECT_EQ(error["error"]["message"].get<std::string>().rfind(
                "step 'reply' failed: upstream stream ended before the answer finished", 0),
            0u)
      << data[2];
  EXPECT_EQ(data[3], "[DONE]");
  EXPECT_EQ(response.body.find("sk-test-secret-42"), std::string::npos);
}

TEST_F(ServeV1UpstreamTest, AFailedOneShotAnswerIsA502) {
  testing::FakeUpstreamScript script;
  script.status = 401;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {R"({"error":{"message":"Incorrect API key provided: sk-test-secret-42"}})"};
  upstream_.SetScript(script);
  Start();
  auto response = testing::RawRequest(port_, "POST", "/v1/chat/completions",
                                      R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(response.status, 502);
  EXPECT_EQ(response.headers["content-type"], "application/json");
  json error = json::parse(response.body);
  EXPECT_EQ(error["error"]["message"],
            "step 'reply' failed: upstream returned HTTP 401: Incorrect API key provided: [redacted]");
  EXPECT_EQ(error["error"]["type"], "server_error");
  // Counted and logged with the status the client got, not 200.
  // (The stream is counted when its run has ended, just after the last byte went.)
  const std::string counted = "flowrun_requests_total{flow=\"chat\",status=\"502\"} 1";
  testing::RawResponse metrics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    metrics = testing::RawRequest(port_, "GET", "/metrics");
    if (metrics.body.find(counted) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_NE(metrics.body.find(counted), std::string::npos) << "never counted as 502 in 10 s:\n" << metrics.body;
  EXPECT_EQ(metrics.body.find("flowrun_requests_total{flow=\"chat\",status=\"200\"}"), std::string::npos);
  server_->Stop(SIGTERM, std::chrono::seconds(10));
  const std::string log = ReadAll(log_path_);
  EXPECT_NE(log.find("POST /v1/chat/completions (chat) 502 stream ended with error in step 'reply'"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("sk-test-secret-42"), std::string::npos);
}

// A client (an SDK's AbortController, a closed chat tab) hangs up: the run
// is cancelled and its upstream transfer aborted.
TEST_F(ServeV1UpstreamTest, ClientDisconnectAbortsTheUpstreamTransfer) {
  testing::FakeUpstreamScript script;
  script.pieces = {testing::OpenAiDeltaEvent("first")};
  script.end = testing::FakeUpstreamScript::End::kTrickle;  // alive, still "thinking"
  upstream_.SetScript(script);
  Start();
  int fd = testing::ConnectTo(port_);
  ASSERT_GE(fd, 0);
  const std::string body = R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string received;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received.find("\"content\":\"first\"") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no first chunk: " << received;
    ssize_t count = recv(fd, buffer, sizeof(buffer), 0);
    ASSERT_GT(count, 0);
    received.append(buffer, static_cast<size_t>(count));
  }
  ASSERT_EQ(upstream_.open_responses(), 1);
  const auto closed_at = std::chrono::steady_clock::now();
  close(fd);
  for (int i = 0; i < 1000 && !upstream_.client_gone_at(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(upstream_.client_gone_at()) << "the upstream transfer was never aborted";
  const double ms = std::chrono::duration<double, std::milli>(*upstream_.client_gone_at() - closed_at).count();
  EXPECT_LT(ms, 2000);  // promptly, with room for a loaded 2-core machine
}

}  // namespace
}  // namespace flowrun
