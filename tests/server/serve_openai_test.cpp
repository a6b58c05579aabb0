// `flowrun serve` in front of an OpenAI-compatible upstream (a fake on
// 127.0.0.1): tokens arrive in order and intact, errors become events.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
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

// Streams from an OpenAI-compatible upstream run on the upstream event loop;
// its 100 ms ticks (not a per-stream thread) send heartbeats and notice the
// shutdown. Both while the upstream says nothing and while it sends only
// keep-alive comments (then the loop checks once a second).
TEST(ServeOpenAiLoopTest, HeartbeatsWhileTheUpstreamIsQuiet) {
  for (auto end : {testing::FakeUpstreamScript::End::kHang, testing::FakeUpstreamScript::End::kTrickle}) {
    const bool trickle = end == testing::FakeUpstreamScript::End::kTrickle;
    SCOPED_TRACE(trickle ? "upstream sends keep-alive comments" : "upstream silent");
    FakeOpenAiUpstream upstream;
    ASSERT_GT(upstream.port(), 0);
    upstream.SetStream({}, end);
    testing::ServeProcess server({std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--heartbeat", "0.2"},
                                 {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
    ASSERT_GT(server.port(), 0);
    const auto start = std::chrono::steady_clock::now();
    int pings = 0;
    auto response = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})",
                                        {{"Content-Type", "application/json"}}, [&](const std::string& so_far) {
                                          pings = 0;
                                          for (size_t at = so_far.find(": ping"); at != std::string::npos;
                                               at = so_far.find(": ping", at + 1)) {
                                            ++pings;
                                          }
                                          return pings < 2;
                                        });
    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(pings, 2) << response.body;
    EXPECT_LT(elapsed_ms, trickle ? 3500 : 1500);
  }
}

TEST(ServeOpenAiLoopTest, ShutdownEndsUpstreamStreamsLeftAfterTheDrainTimeout) {
  FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  // Trickling keep-alive comments: the fake notices when flowrun hangs up.
  upstream.SetStream({testing::OpenAiDeltaEvent("first")}, testing::FakeUpstreamScript::End::kTrickle);
  testing::ServeProcess server({std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--drain-timeout", "0.3"},
                               {{"OPENAI_BASE_URL", upstream.base_url()}, {"OPENAI_API_KEY", std::nullopt}});
  ASSERT_GT(server.port(), 0);
  std::atomic<bool> started{false};
  testing::RawResponse response;
  std::thread client([&] {
    response = testing::RawRequest(server.port(), "POST", "/chat", R"({"message":"hi"})",
                                   {{"Content-Type", "application/json"}}, [&](const std::string& so_far) {
                                     if (so_far.find("event: chunk") != std::string::npos) started = true;
                                     return true;
                                   });
  });
  for (int i = 0; i < 1000 && !started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(started);
  const auto stop_at = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0);
  const double stop_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - stop_at).count();
  client.join();
  auto events = testing::ParseSse(response.body);
  ASSERT_EQ(events.size(), 3u) << response.body;
  EXPECT_EQ(events[0]["event"], "chunk");
  EXPECT_EQ(events[1]["event"], "error");
  EXPECT_EQ(nlohmann::json::parse(events[1]["data"]),
            nlohmann::json::parse(R"({"error":"the server is shutting down","step":"reply","path":"reply"})"));
  EXPECT_EQ(events[2]["event"], "done");
  EXPECT_LT(stop_ms, 2500);  // the 0.3 s drain, then the loop's next tick
  for (int i = 0; i < 100 && !upstream.client_gone_at(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(upstream.client_gone_at()) << "the upstream transfer was not aborted";
}

}  // namespace
}  // namespace flowrun
