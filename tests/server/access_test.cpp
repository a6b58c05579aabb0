// API keys, CORS and request ids (socket-free), and the request log as
// `serve --log-format json` writes it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fakes/fake_llm_client.h"
#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"
#include "flow/flow_loader.h"
#include "server/access_control.h"
#include "server/flow_service.h"

namespace flowrun {
namespace {

const char kFlow[] = "version: 1\nname: chat\nendpoint: /chat\ninput:\n  message: string\nsteps:\n"
                     "  - type: append-message\n    content: \"{{ input.message }}\"\n  - id: reply\n    type: llm-stream\n";

struct Fixture {
  std::shared_ptr<testing::FakeLlmClient> client = std::make_shared<testing::FakeLlmClient>();
  std::unique_ptr<FlowService> service;
  explicit Fixture(ServiceOptions options) {
    StepRegistry registry = testing::BuiltinRegistry();
    auto loaded = LoadFlowFromString(kFlow, "chat.yaml", registry, testing::FakeEnvironment(client));
    service = std::make_unique<FlowService>(options);
    EXPECT_TRUE(service->SetFlows({loaded.flow}).ok());
  }
  HttpResponse Call(const std::string& method, const std::string& path, std::map<std::string, std::string> headers,
                    const std::string& body = "") {
    return service->Handle(HttpRequest{method, path, {}, std::move(headers), body});
  }
};

std::string Header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

TEST(Access, ApiKeysGuardEverythingButThePageAndHealth) {
  ServiceOptions options;
  options.api_keys = {"key-one", "key-two"};
  Fixture fixture(options);
  auto denied = fixture.Call("POST", "/chat", {}, R"({"message":"hi"})");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(Header(denied, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(nlohmann::json::parse(denied.body)["error"], "missing or invalid API key; send Authorization: Bearer <key>");
  EXPECT_EQ(fixture.Call("POST", "/chat", {{"authorization", "Bearer key-on"}}, "{}").status, 401);
  EXPECT_EQ(fixture.Call("POST", "/chat", {{"authorization", "key-one"}}, "{}").status, 401);
  EXPECT_EQ(fixture.Call("GET", "/flows", {}).status, 401);
  EXPECT_EQ(fixture.Call("GET", "/metrics", {}).status, 401);
  EXPECT_TRUE(fixture.client->requests().empty());  // nothing ran
  EXPECT_EQ(fixture.Call("GET", "/healthz", {}).status, 200);
  EXPECT_EQ(fixture.Call("GET", "/", {}).status, 200);
  auto allowed = fixture.Call("POST", "/chat", {{"authorization", "Bearer key-two"}}, R"({"message":"hi"})");
  EXPECT_EQ(allowed.status, 200);
  EXPECT_TRUE(allowed.stream);
}

TEST(Access, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(Access, CorsAllowListAndPreflight) {
  ServiceOptions options;
  options.cors_origins = {"https://app.example"};
  options.api_keys = {"k"};
  Fixture fixture(options);
  auto preflight = fixture.Call("OPTIONS", "/chat", {{"origin", "https://app.example"},
                                                     {"access-control-request-method", "POST"},
                                                     {"access-control-request-headers", "authorization,content-type"}});
  EXPECT_EQ(preflight.status, 204);  // no key needed: browsers send none on preflight
  EXPECT_EQ(Header(preflight, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(Header(preflight, "Access-Control-Allow-Methods"), "GET, POST, OPTIONS");
  EXPECT_EQ(Header(preflight, "Access-Control-Allow-Headers"), "Authorization, Content-Type, X-Request-Id");
  auto other = fixture.Call("OPTIONS", "/chat", {{"origin", "https://evil.example"}, {"access-control-request-method", "POST"}});
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(Header(other, "Access-Control-Allow-Origin"), "");
  auto post = fixture.Call("POST", "/chat", {{"origin", "https://app.example"}, {"authorization", "Bearer k"}},
                           R"({"message":"hi"})");
  EXPECT_EQ(Header(post, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(Header(post, "Vary"), "Origin");
  auto foreign = fixture.Call("POST", "/chat", {{"origin", "https://evil.example"}, {"authorization", "Bearer k"}},
                              R"({"message":"hi"})");
  EXPECT_EQ(Header(foreign, "Access-Control-Allow-Origin"), "");  // default: no origin allowed, never '*'
}

TEST(Access, RequestIdsAreEchoedOrMade) {
  Fixture fixture({});
  EXPECT_EQ(Header(fixture.Call("GET", "/healthz", {{"x-request-id", "abc-123"}}), "X-Request-Id"), "abc-123");
  std::string made = Header(fixture.Call("GET", "/healthz", {{"x-request-id", "bad id\n"}}), "X-Request-Id");
  EXPECT_FALSE(made.empty());
  EXPECT_NE(made, "bad id\n");
  EXPECT_NE(made, Header(fixture.Call("GET", "/healthz", {}), "X-Request-Id"));
}

TEST(Access, JsonRequestLogWithoutKeysAndContentOnlyWhenAsked) {
  for (bool log_content : {false, true}) {
    const std::string log_path = testing::WriteTempFile("serve.log", "");
    std::vector<std::string> args = {std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml", "--log-format", "json"};
    if (log_content) args.push_back("--log-content");
    {
      testing::ServeProcess server(args, {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt},
                                          {"FLOWRUN_API_KEYS", "sk-flowrun-secret"}}, log_path);
      ASSERT_GT(server.port(), 0);
      auto ok = testing::RawRequest(server.port(), "POST", "/chat?events=all", R"({"message":"private words"})",
                                    {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-flowrun-secret"},
                                     {"X-Request-Id", "req-7"}});
      EXPECT_EQ(ok.status, 200);
      EXPECT_EQ(testing::RawRequest(server.port(), "POST", "/chat", "{}").status, 401);
    }
    std::ifstream in(log_path);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str().find("sk-flowrun-secret"), std::string::npos) << "a key reached the log";
    EXPECT_EQ(text.str().find("private words") != std::string::npos, log_content);
    bool found = false;
    std::istringstream lines(text.str());
    for (std::string line; std::getline(lines, line);) {
      auto record = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(record.is_discarded()) << "not a JSON line: " << line;
      EXPECT_TRUE(record.contains("time") && record.contains("level") && record.contains("msg"));
      if (record.value("request_id", "") != "req-7") continue;
      found = true;
      EXPECT_EQ(record["flow"], "chat");
      EXPECT_EQ(record["status"], 200);
      EXPECT_EQ(record["outcome"], "done");
      EXPECT_GT(record["chunks"].get<int>(), 5);
      EXPECT_GT(record["first_chunk_ms"].get<double>(), 0);
      EXPECT_GE(record["duration_ms"].get<double>(), record["first_chunk_ms"].get<double>());
    }
    EXPECT_TRUE(found) << text.str();
  }
}

// The logged reply is the flow's output: the output key of the last step
// that streamed to the client, whatever it is called (here `answer`).
TEST(Access, LoggedReplyIsTheStreamedStepsOutput) {
  const std::string flow_path = testing::WriteTempFile(
      "answer.yaml",
      "version: 1\nname: answer\nendpoint: /answer\ninput:\n  message: string\nsteps:\n"
      "  - type: append-message\n    content: \"{{ input.message }}\"\n"
      "  - id: think\n    type: llm-stream\n    provider: mock\n    output: answer\n");
  const std::string log_path = testing::WriteTempFile("answer.log", "");
  std::string streamed;
  {
    testing::ServeProcess server({flow_path, "--log-format", "json", "--log-content"},
                                 {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}}, log_path);
    ASSERT_GT(server.port(), 0);
    auto ok = testing::RawRequest(server.port(), "POST", "/answer", R"({"message":"hello"})",
                                  {{"Content-Type", "application/json"}, {"X-Request-Id", "req-answer"}});
    ASSERT_EQ(ok.status, 200);
    for (const auto& event : testing::ParseSse(ok.body)) {
      if (event.count("event") && event.at("event") == "chunk") {
        streamed += nlohmann::json::parse(event.at("data")).get<std::string>();
      }
    }
  }
  ASSERT_FALSE(streamed.empty());
  std::ifstream in(log_path);
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(record.is_discarded()) << "not a JSON line: " << line;
    if (record.value("request_id", "") != "req-answer") continue;
    found = true;
    ASSERT_TRUE(record.contains("reply")) << line;
    EXPECT_EQ(record["reply"], streamed) << line;
  }
  EXPECT_TRUE(found) << "no log line for req-answer";
}

}  // namespace
}  // namespace flowrun
