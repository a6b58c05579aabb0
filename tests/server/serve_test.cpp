// `flowrun serve` end to end over real sockets on 127.0.0.1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::RawRequest;

class ServeTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<testing::ServeProcess>(args);
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }
  std::unique_ptr<testing::ServeProcess> server_;
  int port_ = 0;
};

TEST_F(ServeTest, StreamsTokensAsTheyArriveAndEndsWithDone) {
  Start();
  auto response = RawRequest(port_, "POST", "/chat", R"({"message":"hi"})");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.headers["content-type"], "text/event-stream");
  EXPECT_EQ(response.headers.count("content-encoding"), 0u);
  auto events = testing::ParseSse(response.body);
  ASSERT_GE(events.size(), 10u);
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(events[i]["event"], "chunk");
    EXPECT_EQ(events[i]["id"], std::to_string(i + 1));
    text += nlohmann::json::parse(events[i]["data"]).get<std::string>();
  }
  EXPECT_EQ(events.back()["event"], "done");
  EXPECT_EQ(events.back()["data"], "[DONE]");
  EXPECT_EQ(text, "You said: \"hi\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one.");
  // chat.yaml paces the mock at 40 ms a token: the bytes must trickle in, not
  // arrive as one blob at the end.
  ASSERT_GE(response.arrivals.size(), 5u);
  auto spread = response.arrivals.back() - response.arrivals.front();
  EXPECT_GT(spread, std::chrono::milliseconds(40 * 5));
}

TEST_F(ServeTest, AnswersErrorsAndOperationsEndpoints) {
  Start();
  auto bad = RawRequest(port_, "POST", "/chat", "{\"message\":\"", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad.body)["error"], "the request body is not valid JSON");
  auto missing = RawRequest(port_, "POST", "/chat", "{}");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["field"], "message");
  EXPECT_EQ(RawRequest(port_, "POST", "/nope", "{}").status, 404);
  auto wrong = RawRequest(port_, "GET", "/chat");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["allow"], "POST");
  auto health = RawRequest(port_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  auto page = RawRequest(port_, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("flowrun playground"), std::string::npos);
  auto flows = RawRequest(port_, "GET", "/flows");
  EXPECT_EQ(nlohmann::json::parse(flows.body)["flows"][0]["endpoint"], "/chat");
}

TEST_F(ServeTest, StepEventsOnRequestAndConcurrentStreams) {
  Start({"--threads", "8"});
  std::vector<std::thread> clients;
  std::vector<int> statuses(6);
  std::vector<std::string> bodies(6);
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      auto response = RawRequest(port_, "POST", "/chat?events=all", R"({"message":"n)" + std::to_string(i) + R"("})");
      statuses[i] = response.status;
      bodies[i] = response.body;
    });
  }
  for (auto& client : clients) client.join();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(statuses[i], 200);
    auto events = testing::ParseSse(bodies[i]);
    ASSERT_GE(events.size(), 3u);
    EXPECT_EQ(events.front()["event"], "step:before");
    EXPECT_EQ(events.back()["event"], "done");
    EXPECT_NE(bodies[i].find("n" + std::to_string(i)), std::string::npos);
  }
}

TEST(Serve, RefusesToStartWithAnInvalidFlow) {
  auto result = testing::RunProcess({FLOWRUN_BINARY, "serve", std::string(FLOWRUN_SOURCE_DIR) + "/README.md", "--port", "0"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("error:"), std::string::npos);
}

}  // namespace
}  // namespace flowrun
