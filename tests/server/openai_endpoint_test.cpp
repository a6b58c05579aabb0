// The OpenAI facade through FlowService::Handle, without sockets: model
// listing, the chunk stream and the one-shot completion with exact bodies,
// errors in OpenAI's shape with their statuses, admission, keys, CORS,
// pass_through reaching the model, and reloads.
#include "server/flow_service.h"

#include <gtest/gtest.h>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "fakes/fake_llm_client.h"
#include "fakes/stream_driver.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

using nlohmann::json;

const char kChat[] = R"(version: 1
name: chat
endpoint: /chat
input:
  message: {type: string, required: true, max_length: 10}
  history: {type: messages, default: []}
openai:
  pass_through: [temperature]
steps:
  - id: user
    type: append-message
    content: "{{ input.message }}"
  - id: reply
    type: llm-stream
  - type: append-reply
)";

const char kHidden[] = R"(version: 1
name: hidden
openai: false
steps:
  - type: llm-stream
)";

class StringWriter : public StreamWriter {
 public:
  bool Write(std::string_view bytes) override {
    text += bytes;
    return true;
  }
  std::string text;
};

// Like DriveStream, and records the head a waiting response starts with.
struct Driven {
  int status = 0;
  std::string content_type;
  std::string body;
};
Driven Drive(const HttpResponse& response) {
  Driven driven;
  EventLoop loop;
  EXPECT_TRUE(loop.Init().ok());
  CancelScope scope;
  FlowControl flow;
  StringWriter writer;
  loop.Post([&] {
    StreamRun run{loop, writer, scope, flow};
    if (response.head_waits) {
      run.start_response = [&driven](int status, const std::string& type) {
        driven.status = status;
        driven.content_type = type;
      };
    }
    StartTask(response.stream(run), [&](std::exception_ptr) { loop.Stop(); });
  });
  loop.Run();
  driven.body = writer.text;
  return driven;
}

struct Facade {
  std::shared_ptr<testing::FakeLlmClient> client = std::make_shared<testing::FakeLlmClient>();
  std::unique_ptr<FlowService> service;
  explicit Facade(ServiceOptions options = {}) : service(std::make_unique<FlowService>(options)) {
    EXPECT_TRUE(service->SetFlows({Load(kChat), Load(kHidden)}).ok());
  }
  std::shared_ptr<const Flow> Load(const std::string& source) {
    StepRegistry registry = testing::BuiltinRegistry();
    auto loaded = LoadFlowFromString(source, "x.yaml", registry, testing::FakeEnvironment(client));
    EXPECT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
    return loaded.flow;
  }
  HttpResponse Post(const std::string& body, std::map<std::string, std::string> headers = {}) {
    headers.emplace("content-type", "application/json");
    headers.emplace("x-request-id", "req-1");
    return service->Handle(HttpRequest{"POST", "/v1/chat/completions", {}, headers, body});
  }
  HttpResponse Get(const std::string& path, std::map<std::string, std::string> headers = {}) {
    return service->Handle(HttpRequest{"GET", path, {}, headers, ""});
  }
};

std::string HeaderOf(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

// The created time is the clock's: check it, then replace it for exact comparisons.
std::string WithoutCreated(std::string text) {
  const std::string key = "\"created\":";
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    size_t end = at + key.size();
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    const long long created = std::stoll(text.substr(at + key.size(), end - at - key.size()));
    EXPECT_GT(created, 1700000000);
    text.replace(at + key.size(), end - at - key.size(), "T");
  }
  return text;
}

TEST(OpenAiEndpoint, ListsTheExposedFlowsAsModels) {
  Facade facade;
  HttpResponse list = facade.Get("/v1/models");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.content_type, "application/json");
  EXPECT_EQ(WithoutCreated(list.body),
            R"({"object":"list","data":[{"id":"chat","object":"model","created":T,"owned_by":"flowrun"}]})" "\n");
  HttpResponse one = facade.Get("/v1/models/chat");
  EXPECT_EQ(WithoutCreated(one.body), R"({"id":"chat","object":"model","created":T,"owned_by":"flowrun"})" "\n");
  HttpResponse missing = facade.Get("/v1/models/hidden");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body,
            "{\"error\":{\"message\":\"model 'hidden' is not served here; served models: chat\","
            "\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}\n");
}

TEST(OpenAiEndpoint, StreamsChunksWithRoleOnceFinishReasonAndDone) {
  Facade facade;
  HttpResponse response = facade.Post(R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/event-stream");
  EXPECT_FALSE(response.head_waits);
  ASSERT_TRUE(response.stream);
  Driven driven = Drive(response);
  const std::string p =
      R"(data: {"id":"chatcmpl-req-1","object":"chat.completion.chunk","created":T,"model":"chat","choices":[)";
  EXPECT_EQ(WithoutCreated(driven.body),
            p + R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{"content":"lo"},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})" "\n\n"
            "data: [DONE]\n\n");
  EXPECT_EQ(driven.body.find("event:"), std::string::npos);
}

TEST(OpenAiEndpoint, IncludeUsageEndsWithAUsageChunk) {
  Facade facade;
  Driven driven = Drive(facade.Post(R"({"model":"chat","stream":true,"stream_options":{"include_usage":true},
      "messages":[{"role":"user","content":"hi"}]})"));
  const std::string body = WithoutCreated(driven.body);
  // Counts are whatever the model steps report (the fake reports none: 0).
  const std::string usage =
      R"(data: {"id":"chatcmpl-req-1","object":"chat.completion.chunk","created":T,"model":"chat","choices":[],)"
      R"("usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}})" "\n\ndata: [DONE]\n\n";
  ASSERT_GE(body.size(), usage.size());
  EXPECT_EQ(body.substr(body.size() - usage.size()), usage);
  // Every earlier chunk carries "usage":null.
  size_t chunks = 0;
  for (size_t at = body.find("data: {"); at != std::string::npos; at = body.find("data: {", at + 1)) ++chunks;
  size_t nulls = 0;
  for (size_t at = body.find(R"("usage":null})"); at != std::string::npos; at = body.find(R"("usage":null})", at + 1)) {
    ++nulls;
  }
  EXPECT_EQ(chunks, 6u);
  EXPECT_EQ(nulls, 5u);
}

TEST(OpenAiEndpoint, StreamFalseIsOneCompletionAfterTheRun) {
  Facade facade;
  HttpResponse response = facade.Post(R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(response.status, 200);
  EXPECT_TRUE(response.head_waits);
  Driven driven = Drive(response);
  EXPECT_EQ(driven.status, 200);
  EXPECT_EQ(driven.content_type, "application/json");
  EXPECT_EQ(WithoutCreated(driven.body),
            R"({"id":"chatcmpl-req-1","object":"chat.completion","created":T,"model":"chat","choices":[{"index":0,)"
            R"("message":{"role":"assistant","content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
            R"("usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}})" "\n");
}

TEST(OpenAiEndpoint, MessagesReachTheModelAndAllowedFieldsPassThrough) {
  Facade facade;
  Drive(facade.Post(R"({"model":"chat","stream":true,"temperature":0.3,"max_tokens":7,"messages":[
      {"role":"system","content":"S"},{"role":"user","content":"a"},{"role":"assistant","content":"b"},
      {"role":"user","content":"c"}]})"));
  auto requests = facade.client->requests();
  ASSERT_EQ(requests.size(), 1u);
  std::vector<std::pair<std::string, std::string>> sent;
  for (const auto& message : requests[0].messages) sent.emplace_back(message.role, message.content);
  EXPECT_EQ(sent, (std::vector<std::pair<std::string, std::string>>{
                      {"system", "S"}, {"user", "a"}, {"assistant", "b"}, {"user", "c"}}));
  EXPECT_EQ(requests[0].temperature, 0.3);
  EXPECT_FALSE(requests[0].max_tokens);  // not in the flow's pass_through
}

TEST(OpenAiEndpoint, AFailureMidStreamIsAnErrorObjectThenDone) {
  Facade facade;
  facade.client->final_status = Status::Error("upstream stream ended before the answer finished (reset)");
  Driven driven = Drive(facade.Post(R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})"));
  const std::string tail =
      R"({"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]})" "\n\n"
      R"x(data: {"error":{"message":"step 'reply' failed: upstream stream ended before the answer finished (reset)",)x"
      R"("type":"server_error","param":null,"code":"flow_failed"}})" "\n\ndata: [DONE]\n\n";
  ASSERT_GE(driven.body.size(), tail.size());
  EXPECT_EQ(driven.body.substr(driven.body.size() - tail.size()), tail);
  EXPECT_EQ(driven.body.find("finish_reason\":\"stop"), std::string::npos);
}

TEST(OpenAiEndpoint, AFailedStreamFalseRunIsAnErrorStatus) {
  Facade facade;
  facade.client->final_status = Status::Error("upstream returned HTTP 401: bad key");
  Driven driven = Drive(facade.Post(R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(driven.status, 502);
  EXPECT_EQ(driven.content_type, "application/json");
  EXPECT_EQ(driven.body,
            "{\"error\":{\"message\":\"step 'reply' failed: upstream returned HTTP 401: bad key\","
            "\"type\":\"server_error\",\"param\":null,\"code\":\"flow_failed\"}}\n");
}

std::string ErrorOf(const HttpResponse& response) {
  return std::to_string(response.status) + " " + response.body;
}

TEST(OpenAiEndpoint, ErrorsBeforeTheAnswerHaveOpenAisShapeAndStatus) {
  Facade facade;
  EXPECT_EQ(ErrorOf(facade.Post(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})")),
            "404 {\"error\":{\"message\":\"model 'gpt-4o' is not served here; served models: chat\","
            "\"type\":\"invalid_request_error\",\"param\":\"model\",\"code\":\"model_not_found\"}}\n");
  EXPECT_EQ(ErrorOf(facade.Post(R"({"model":"hidden","messages":[{"role":"user","content":"hi"}]})")).substr(0, 3), "404");
  EXPECT_EQ(ErrorOf(facade.Post(R"({"model":"chat","n":3,"messages":[{"role":"user","content":"hi"}]})")),
            "400 {\"error\":{\"message\":\"'n' is 3; flowrun answers with one choice, so n must be 1\","
            "\"type\":\"invalid_request_error\",\"param\":\"n\",\"code\":null}}\n");
  EXPECT_EQ(ErrorOf(facade.Post("{nope")),
            "400 {\"error\":{\"message\":\"the request body is not valid JSON\",\"type\":\"invalid_request_error\","
            "\"param\":null,\"code\":null}}\n");
  EXPECT_EQ(ErrorOf(facade.Post(R"({"model":"chat","messages":[{"role":"user","content":"far too long"}]})")),
            "400 {\"error\":{\"message\":\"flow 'chat': input 'message' is too long: 12 characters, at most 10\","
            "\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":null}}\n");
  HttpResponse wrong_method = facade.Get("/v1/chat/completions");
  EXPECT_EQ(ErrorOf(wrong_method),
            "405 {\"error\":{\"message\":\"method GET is not allowed on /v1/chat/completions; use POST\","
            "\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}\n");
  EXPECT_EQ(HeaderOf(wrong_method, "Allow"), "POST");
  EXPECT_EQ(facade.client->requests().size(), 0u);  // none reached the model
}

TEST(OpenAiEndpoint, KeysAreTheNativeEndpointsKeys) {
  ServiceOptions options;
  options.api_keys = {"k-0123456789abcdef"};
  Facade facade(options);
  HttpResponse denied = facade.Get("/v1/models");
  EXPECT_EQ(ErrorOf(denied),
            "401 {\"error\":{\"message\":\"missing or invalid API key; send Authorization: Bearer <key>\","
            "\"type\":\"authentication_error\",\"param\":null,\"code\":\"invalid_api_key\"}}\n");
  EXPECT_EQ(HeaderOf(denied, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(facade.Post(R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})",
                        {{"authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(facade.Get("/v1/models", {{"authorization", "Bearer k-0123456789abcdef"}}).status, 200);
}

TEST(OpenAiEndpoint, AtTheStreamLimitA429WithRetryAfter) {
  ServiceOptions options;
  options.max_streams = 1;
  Facade facade(options);
  HttpResponse first = facade.Post(R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_EQ(first.status, 200);  // holds the one slot until it is destroyed
  HttpResponse second = facade.Post(R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(ErrorOf(second),
            "429 {\"error\":{\"message\":\"the server is at its limit of 1 concurrent streams; retry shortly\","
            "\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n");
  EXPECT_EQ(HeaderOf(second, "Retry-After"), "1");
  // The native endpoint keeps its 503 there.
  HttpRequest native{"POST", "/chat", {}, {{"content-type", "application/json"}}, R"({"message":"hi"})"};
  EXPECT_EQ(facade.service->Handle(native).status, 503);
}

TEST(OpenAiEndpoint, CorsHeadersAsOnEveryRoute) {
  ServiceOptions options;
  options.cors_origins = {"https://app.example"};
  Facade facade(options);
  HttpResponse response = facade.Get("/v1/models", {{"origin", "https://app.example"}});
  EXPECT_EQ(HeaderOf(response, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(HeaderOf(response, "Vary"), "Origin");
  HttpRequest preflight{"OPTIONS", "/v1/chat/completions", {},
                        {{"origin", "https://app.example"}, {"access-control-request-method", "POST"}}, ""};
  HttpResponse answer = facade.service->Handle(preflight);
  EXPECT_EQ(answer.status, 204);
  EXPECT_EQ(HeaderOf(answer, "Access-Control-Allow-Headers"), "Authorization, Content-Type, X-Request-Id");
}

TEST(OpenAiEndpoint, AReloadedFlowsModelIdFollowsItsName) {
  Facade facade;
  std::string renamed = kChat;
  renamed.replace(renamed.find("name: chat"), 10, "name: helper");
  ASSERT_TRUE(facade.service->SetFlows({facade.Load(renamed)}).ok());
  EXPECT_EQ(WithoutCreated(facade.Get("/v1/models").body),
            R"({"object":"list","data":[{"id":"helper","object":"model","created":T,"owned_by":"flowrun"}]})" "\n");
  EXPECT_EQ(facade.Post(R"({"model":"chat","messages":[{"role":"user","content":"hi"}]})").status, 404);
  EXPECT_EQ(facade.Post(R"({"model":"helper","messages":[{"role":"user","content":"hi"}]})").status, 200);
}

TEST(OpenAiEndpoint, TheNativeEndpointIsUnchanged) {
  Facade facade;
  HttpRequest request{"POST", "/chat", {}, {{"content-type", "application/json"}}, R"({"message":"hi"})"};
  HttpResponse response = facade.service->Handle(request);
  EXPECT_FALSE(response.head_waits);
  EXPECT_EQ(Drive(response).body,
            "event: chunk\nid: 1\ndata: \"Hel\"\n\n"
            "event: chunk\nid: 2\ndata: \"lo\"\n\n"
            "event: chunk\nid: 3\ndata: \"!\"\n\n"
            "event: done\nid: 4\ndata: [DONE]\n\n");
  EXPECT_EQ(ErrorOf(facade.service->Handle(HttpRequest{"POST", "/chat", {}, {}, "{"})),
            "400 {\"error\":\"the request body is not valid JSON\"}\n");
}

}  // namespace
}  // namespace flowrun
