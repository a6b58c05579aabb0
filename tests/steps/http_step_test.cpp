// The http step against a fake API on 127.0.0.1: what it sends (method,
// path, query, headers with a secret from the environment, a JSON body that
// stays valid whatever the values hold), what it stores, non-2xx statuses
// and accept_status, the response limit, a cancelled run aborting the
// request in flight, and the load-time checks (a templated host refused).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fakes/fake_openai_upstream.h"
#include "flow/flow_test_support.h"
#include "llm/mock_client.h"

namespace flowrun {
namespace {

using nlohmann::json;
using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;

const std::map<std::string, std::string> kEnv = {{"CRM_TOKEN", "tok-secret-9"}};

std::shared_ptr<const Flow> Load(const std::string& yaml) {
  return testing::LoadOrFail(yaml, testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({}), kEnv));
}

std::string LoadErrors(const std::string& yaml) {
  LoadResult result = LoadFlowFromString(yaml, "flow.yaml", testing::BuiltinRegistry(),
                                         testing::FakeEnvironment(MakeMockClient({}), kEnv));
  return result.diagnostics.ToString();
}

RunResult RunHttp(const Flow& flow, const json& input) {
  Cancellation cancel;
  return RunFlow(flow, input, [](const Event&) { return true; }, cancel);
}

FakeUpstreamScript JsonAnswer(int status, const std::string& body) {
  FakeUpstreamScript script;
  script.status = status;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {body};
  return script;
}

std::string Port(const FakeOpenAiUpstream& api) { return std::to_string(api.port()); }

TEST(HttpStep, SendsTheRequestAsWrittenAndStoresTheResponse) {
  FakeOpenAiUpstream api;
  ASSERT_GT(api.port(), 0);
  api.SetScript(JsonAnswer(201, R"({"id": 7, "echo": "Bearer tok-secret-9"})"));
  auto flow = Load(R"yaml(version: 1
name: orders
input: {message: string, id: string, n: number}
steps:
  - id: create
    type: http
    url: "http://127.0.0.1:)yaml" + Port(api) + R"yaml(/orders/{{ input.id }}"
    query: {q: "{{ input.message }}", n: 2}
    headers:
      Authorization: "Bearer ${env.CRM_TOKEN}"
      X-Note: "{{ input.id }}"
    json:
      text: "{{ input.message }}"
      count: "{{ input.n + 1 }}"
      nested: {ok: true, items: ["{{ input.id }}", 2]}
)yaml");
  ASSERT_TRUE(flow);
  const std::string message = "say \"hi\"\nthen {{ input.id }} & leave";
  RunResult result = RunHttp(*flow, {{"message", message}, {"id", "42"}, {"n", 2}});
  ASSERT_TRUE(result.ok) << result.error;

  const testing::RecordedRequest request = api.last_request();
  EXPECT_EQ(request.method, "POST");  // a json body without a method
  EXPECT_EQ(request.path, "/orders/42");
  EXPECT_EQ(request.query, "n=2&q=say%20%22hi%22%0Athen%20%7B%7B%20input.id%20%7D%7D%20%26%20leave");
  EXPECT_EQ(request.Header("Authorization"), "Bearer tok-secret-9");
  EXPECT_EQ(request.Header("X-Note"), "42");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  // Real JSON: quotes and newlines in values are safe, and values keep their types.
  EXPECT_EQ(json::parse(request.body),
            (json{{"text", message}, {"count", 3}, {"nested", {{"ok", true}, {"items", {"42", 2}}}}}));

  const json& response = result.state["response"];
  EXPECT_EQ(response["status"], 201);
  EXPECT_EQ(response["headers"]["content-type"], "application/json");
  EXPECT_EQ(response["body"]["id"], 7);
  EXPECT_EQ(response["body"]["echo"], "Bearer [redacted]");  // the secret is never stored or echoed
}

TEST(HttpStep, ANon2xxStatusIsAnErrorUnlessAccepted) {
  FakeOpenAiUpstream api;
  ASSERT_GT(api.port(), 0);
  api.SetScript(JsonAnswer(404, R"({"error": "no order 9 for tok-secret-9"})"));
  const std::string url = "http://127.0.0.1:" + Port(api) + "/orders/9";
  auto strict = Load("version: 1\nname: get\nsteps:\n  - id: fetch\n    type: http\n    url: " + url +
                     "\n    headers: {Authorization: \"Bearer ${env.CRM_TOKEN}\"}\n");
  ASSERT_TRUE(strict);
  RunResult failed = RunHttp(*strict, json::object());
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.error_step, "fetch");
  EXPECT_EQ(failed.error, "GET " + url + " answered HTTP 404: {\"error\": \"no order 9 for [redacted]\"}");
  EXPECT_EQ(api.last_request().method, "GET");
  EXPECT_EQ(failed.state["response"]["status"], 404);  // kept for an on_error handler

  auto lenient = Load("version: 1\nname: get\nsteps:\n  - id: fetch\n    type: http\n    url: " + url +
                      "\n    accept_status: [404]\n    output: found\n");
  ASSERT_TRUE(lenient);
  RunResult accepted = RunHttp(*lenient, json::object());
  ASSERT_TRUE(accepted.ok) << accepted.error;
  EXPECT_EQ(accepted.state["found"]["status"], 404);
  EXPECT_EQ(accepted.state["found"]["body"]["error"], "no order 9 for tok-secret-9");  // not a secret of this step
}

TEST(HttpStep, AResponseOverItsLimitIsAnErrorNamingTheLimit) {
  FakeOpenAiUpstream api;
  ASSERT_GT(api.port(), 0);
  FakeUpstreamScript script;
  script.content_type = "text/plain";
  script.filler_bytes = 1 << 20;
  api.SetScript(script);
  auto flow = Load("version: 1\nname: big\nsteps:\n  - id: fetch\n    type: http\n    url: http://127.0.0.1:" +
                   Port(api) + "/big\n    max_response_bytes: 1000\n");
  ASSERT_TRUE(flow);
  RunResult result = RunHttp(*flow, json::object());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, "the response from 127.0.0.1:" + Port(api) + " is larger than max_response_bytes (1000)");
}

TEST(HttpStep, TimeoutMsCancelsTheRequestInFlight) {
  FakeOpenAiUpstream api;
  ASSERT_GT(api.port(), 0);
  FakeUpstreamScript script;
  script.content_type = "text/plain";
  script.pieces = {"partial"};
  script.end = FakeUpstreamScript::End::kTrickle;  // alive, never done
  api.SetScript(script);
  auto flow = Load("version: 1\nname: slow\nsteps:\n  - id: fetch\n    type: http\n    timeout_ms: 300\n"
                   "    url: http://127.0.0.1:" + Port(api) + "/slow\n");
  ASSERT_TRUE(flow);
  const auto started = std::chrono::steady_clock::now();
  RunResult result = RunHttp(*flow, json::object());
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("300 ms"), std::string::npos) << result.error;
  // The transfer was aborted, not left running: the fake sees the client go.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!api.client_gone_at() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(api.client_gone_at()) << "the request was never aborted";
  EXPECT_LT(*api.client_gone_at() - started, std::chrono::seconds(5));
}

TEST(HttpStep, AnUnreachableHostIsAnError) {
  int port = 0;
  {
    FakeOpenAiUpstream closed;  // a port that was open and is closed now
    port = closed.port();
  }
  auto flow = Load("version: 1\nname: down\nsteps:\n  - id: fetch\n    type: http\n    url: http://127.0.0.1:" +
                   std::to_string(port) + "/x\n");
  ASSERT_TRUE(flow);
  RunResult result = RunHttp(*flow, json::object());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.rfind("cannot reach 127.0.0.1:" + std::to_string(port) + ": ", 0), 0u) << result.error;
}

TEST(HttpStep, RenderedValuesCannotBreakTheRequest) {
  FakeOpenAiUpstream api;
  ASSERT_GT(api.port(), 0);
  api.SetScript(JsonAnswer(200, "{}"));
  auto flow = Load("version: 1\nname: inject\ninput: {v: string}\nsteps:\n  - id: fetch\n    type: http\n"
                   "    url: \"http://127.0.0.1:" + Port(api) + "/x/{{ input.v }}\"\n"
                   "    headers: {X-User: \"{{ input.v }}\"}\n");
  ASSERT_TRUE(flow);
  RunResult spaced = RunHttp(*flow, {{"v", "a b"}});
  EXPECT_EQ(spaced.error,
            "the url holds a space or a control character once rendered; pass values that need encoding in 'query'");
  auto header_only = Load("version: 1\nname: inject\ninput: {v: string}\nsteps:\n  - id: fetch\n    type: http\n"
                          "    url: \"http://127.0.0.1:" + Port(api) + "/x\"\n"
                          "    headers: {X-User: \"{{ input.v }}\"}\n");
  ASSERT_TRUE(header_only);
  RunResult split = RunHttp(*header_only, {{"v", "ann\r\nX-Admin: yes"}});
  EXPECT_EQ(split.error, "header 'X-User' would hold a line break or a NUL once rendered");
  EXPECT_EQ(api.request_count(), 0);  // neither was sent
}

TEST(HttpStep, AMissingSecretFailsTheStepWithoutSendingIt) {
  FakeOpenAiUpstream api;
  ASSERT_GT(api.port(), 0);
  auto flow = Load("version: 1\nname: nokey\nsteps:\n  - id: fetch\n    type: http\n    url: http://127.0.0.1:" +
                   Port(api) + "/x\n    headers: {Authorization: \"Bearer ${env.UNSET_TOKEN}\"}\n");
  ASSERT_TRUE(flow);
  RunResult result = RunHttp(*flow, json::object());
  EXPECT_EQ(result.error, "in header 'Authorization': needs the environment variable UNSET_TOKEN, which is not set");
  EXPECT_EQ(api.request_count(), 0);
}

TEST(HttpStep, TheHostMustBeLiteralWhenTheFlowLoads) {
  EXPECT_EQ(LoadErrors(R"yaml(version: 1
name: where
input: {host: string}
steps:
  - id: fetch
    type: http
    url: "https://{{ input.host }}/x"
)yaml"),
            "flow.yaml:7:10: error: 'url' must name its scheme and host literally, before any {{ }}, so that no "
            "request value can choose where flowrun connects\n"
            "        url: \"https://{{ input.host }}/x\"\n"
            "             ^~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
  EXPECT_NE(LoadErrors("version: 1\nname: m\nsteps:\n  - {type: http, url: \"https://a.example\", method: GET,"
                       " json: {a: 1}}\n")
                .find("a GET request cannot send a 'json' body; use POST, PUT or PATCH"),
            std::string::npos);
  EXPECT_NE(LoadErrors("version: 1\nname: m\nsteps:\n  - {type: http, url: \"https://a.example\","
                       " accept_status: [404, x]}\n")
                .find("'accept_status' must be a list of whole numbers, got a list"),
            std::string::npos);
  EXPECT_NE(LoadErrors("version: 1\nname: m\nsteps:\n  - {type: http, url: \"https://a.example\","
                       " headers: {\"X Bad\": 1}}\n")
                .find("header name 'X Bad' is not a valid HTTP field name"),
            std::string::npos);
}

}  // namespace
}  // namespace flowrun
