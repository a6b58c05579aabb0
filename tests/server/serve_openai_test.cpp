// `flowrun serve` in front of an OpenAI-compatible upstream (a fake on
// 127.0.0.1): tokens arrive in order and intact, errors become events.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;

class ServeOpenAiTest : public ::testing::Test {
 protected:
  void Start() {
    ASSERT_GT(upstream_.port(), 0);
    server_ = std::make_unique<testing::ServeProcess>(
        std::vector<std::string>{std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml"},
        std::map<std::string, std::optional<std::string>>{{"OPENAI_BASE_URL", upstream_.base_url()},
                                                          {"OPENAI_API_KEY", "sk-test-secret-42"}});
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  std::vector<std::map<std::string, std::string>> Chat(const std::string& body) {
    auto response = testing::RawRequest(port_, "POST", "/chat", body);
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.headers["content-type"], "text/event-stream");
    return testing::ParseSse(response.body);
  }

  FakeOpenAiUpstream upstream_;
  std::unique_ptr<testing::ServeProcess> server_;
  int port_ = 0;
};

TEST_F(ServeOpenAiTest, ForwardsUpstreamTokensInOrderIntact) {
  const std::vector<std::string> deltas = {"Bon", "jour", " ", "\xC3\xA9t\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC",
                                           " \xF0\x9F\x98\x80", " \"quoted\"\nnext", " end."};
  // Pieces split at awkward bytes, inside multi-byte characters and lines.
  std::string stream = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
  for (const auto& delta : deltas) stream += testing::OpenAiDeltaEvent(delta);
  stream += testing::OpenAiFinishEvent();
  stream += testing::kOpenAiDoneEvent;
  std::vector<std::string> pieces;
  for (size_t i = 0; i < stream.size(); i += 7) pieces.push_back(stream.substr(i, 7));
  upstream_.SetStream(pieces, testing::FakeUpstreamScript::End::kComplete, std::chrono::milliseconds(1));
  Start();

  auto events = Chat(R"({"message":"hi","history":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]})");
  ASSERT_EQ(events.size(), deltas.size() + 1);
  for (size_t i = 0; i < deltas.size(); ++i) {
    EXPECT_EQ(events[i]["event"], "chunk");
    EXPECT_EQ(nlohmann::json::parse(events[i]["data"]).get<std::string>(), deltas[i]) << i;
  }
  EXPECT_EQ(events.back()["event"], "done");
  EXPECT_EQ(events.back()["data"], "[DONE]");

  auto request = upstream_.last_request();
  EXPECT_EQ(request.path, "/v1/chat/completions");
  EXPECT_EQ(request.Header("Authorization"), "Bearer sk-test-secret-42");
  auto body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["temperature"], 0.7);
  EXPECT_EQ(body["messages"], nlohmann::json::parse(R"([{"role":"system","content":"You are a helpful assistant."},
      {"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"hi"}])"));
}

TEST_F(ServeOpenAiTest, UpstreamErrorBecomesAnErrorEventWithoutTheKey) {
  testing::FakeUpstreamScript script;
  script.status = 401;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {R"({"error":{"message":"Incorrect API key provided: sk-test-secret-42","type":"invalid_request_error"}})"};
  upstream_.SetScript(script);
  Start();
  auto events = Chat(R"({"message":"hi"})");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["event"], "error");
  auto error = nlohmann::json::parse(events[0]["data"]);
  EXPECT_EQ(error["step"], "reply");
  EXPECT_EQ(error["error"], "upstream returned HTTP 401: Incorrect API key provided: [redacted]");
  EXPECT_EQ(events[1]["event"], "done");
}

TEST_F(ServeOpenAiTest, TruncatedUpstreamIsAnErrorNotACleanFinish) {
  upstream_.SetStream({testing::OpenAiDeltaEvent("partial")}, testing::FakeUpstreamScript::End::kAbort);
  Start();
  auto events = Chat(R"({"message":"hi"})");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(events[0]["data"]), "partial");
  EXPECT_EQ(events[1]["event"], "error");
  EXPECT_NE(events[1]["data"].find("ended before the answer finished"), std::string::npos) << events[1]["data"];
  EXPECT_EQ(events[2]["event"], "done");
}

// A browser tab closes: flowrun must abort its upstream request (which
// would otherwise keep generating, and costing) within 200 ms, both while
// waiting for the first token and mid-answer.
TEST_F(ServeOpenAiTest, ClientDisconnectAbortsTheUpstreamTransfer) {
  for (bool after_first_chunk : {false, true}) {
    SCOPED_TRACE(after_first_chunk ? "mid-answer" : "waiting for the first token");
    testing::FakeUpstreamScript script;
    if (after_first_chunk) script.pieces = {testing::OpenAiDeltaEvent("first")};
    script.end = testing::FakeUpstreamScript::End::kTrickle;  // upstream alive, still "thinking"
    upstream_.SetScript(script);
    if (!server_) Start();

    int fd = testing::ConnectTo(port_);
    ASSERT_GE(fd, 0);
    const std::string body = R"({"message":"hi"})";
    const std::string request = "POST /chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string received;
    char buffer[4096];
    const std::string wanted = after_first_chunk ? "event: chunk" : "\r\n\r\n";
    while (received.find(wanted) == std::string::npos) {
      ssize_t count = recv(fd, buffer, sizeof(buffer), 0);
      ASSERT_GT(count, 0);
      received.append(buffer, static_cast<size_t>(count));
    }
    // Wait until the upstream is really streaming to flowrun, then hang up.
    for (int i = 0; i < 200 && upstream_.open_responses() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(upstream_.open_responses(), 1);
    const auto previous = upstream_.client_gone_at();  // from the first round
    const auto closed_at = std::chrono::steady_clock::now();
    close(fd);
    for (int i = 0; i < 400 && upstream_.client_gone_at() == previous; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_NE(upstream_.client_gone_at(), previous) << "the upstream transfer was never aborted";
    const double ms = std::chrono::duration<double, std::milli>(*upstream_.client_gone_at() - closed_at).count();
    std::cout << (after_first_chunk ? "mid-answer" : "before the first token") << ": upstream aborted " << ms
              << " ms after the client closed\n";
    EXPECT_LT(ms, 200);
  }
}

}  // namespace
}  // namespace flowrun
