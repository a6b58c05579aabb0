// FlowService without sockets: routing, validation before any model call,
// SSE framing.
#include "server/flow_service.h"

#include <gtest/gtest.h>

#include "fakes/stream_driver.h"
#include "fakes/fake_llm_client.h"
#include "fakes/raw_http_client.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

const char kChat[] = R"(version: 1
name: chat
endpoint: /chat
input:
  message: {type: string, required: true, max_length: 10}
  history: {type: messages, default: []}
steps:
  - id: user
    type: append-message
    content: "{{ input.message }}"
  - id: reply
    type: llm-stream
  - type: append-reply
)";

class StringWriter : public StreamWriter {
 public:
  bool Write(std::string_view bytes) override {
    if (writes_left_ == 0) return false;
    --writes_left_;
    text += bytes;
    return true;
  }
  std::string text;
  int writes_left_ = 1000;
};

struct ServiceFixture {
  std::shared_ptr<testing::FakeLlmClient> client = std::make_shared<testing::FakeLlmClient>();
  FlowService service;
  ServiceFixture() {
    StepRegistry registry = testing::BuiltinRegistry();
    auto loaded = LoadFlowFromString(kChat, "chat.yaml", registry, testing::FakeEnvironment(client));
    EXPECT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
    EXPECT_TRUE(service.SetFlows({loaded.flow}).ok());
  }
  HttpResponse Post(const std::string& body, const std::string& content_type = "application/json",
                    const std::string& path = "/chat") {
    HttpRequest request{"POST", path, {}, {{"content-type", content_type}}, body};
    return service.Handle(request);
  }
};

TEST(FlowService, StreamsChunksAsSseEndingWithDone) {
  ServiceFixture fixture;
  HttpResponse response = fixture.Post(R"({"message":"hi"})");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/event-stream");
  ASSERT_TRUE(response.stream);
  StringWriter writer;
  testing::DriveStream(response, writer);
  EXPECT_EQ(writer.text,
            "event: chunk\nid: 1\ndata: \"Hel\"\n\n"
            "event: chunk\nid: 2\ndata: \"lo\"\n\n"
            "event: chunk\nid: 3\ndata: \"!\"\n\n"
            "event: done\nid: 4\ndata: [DONE]\n\n");
}

TEST(FlowService, StepEventsOnlyWhenAskedAndErrorsAsEvents) {
  ServiceFixture fixture;
  fixture.client->final_status = Status::Error("upstream returned HTTP 401: bad key");
  HttpRequest request{"POST", "/chat", {{"events", "all"}}, {}, R"({"message":"hi"})"};
  StringWriter writer;
  testing::DriveStream(fixture.service.Handle(request), writer);
  auto events = testing::ParseSse(writer.text);
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[0]["event"], "step:before");
  EXPECT_EQ(nlohmann::json::parse(events[0]["data"]), nlohmann::json::parse(R"({"step":"user","path":"user","type":"append-message","index":0})"));
  EXPECT_EQ(events[3]["event"], "chunk");
  EXPECT_EQ(nlohmann::json::parse(events[3]["data"]), nlohmann::json::parse(R"({"step":"reply","path":"reply","text":"Hel"})"))
      << "with events=all a chunk says which step it comes from";
  EXPECT_EQ(events[6]["event"], "error");
  EXPECT_EQ(nlohmann::json::parse(events[6]["data"]),
            nlohmann::json::parse(R"({"error":"upstream returned HTTP 401: bad key","step":"reply","path":"reply"})"));
  EXPECT_EQ(events[7]["event"], "done");
  EXPECT_EQ(nlohmann::json::parse(events[7]["data"]),
            nlohmann::json::parse(R"({"ok":false,"usage":{"prompt_tokens":0,"completion_tokens":0}})"))
      << "with events=all, done says how the run ended and what it spent";
  EXPECT_EQ(events[7]["id"], "8");
}

TEST(FlowService, BadRequestsGet4xxBeforeAnyModelCall) {
  ServiceFixture fixture;
  struct Case {
    std::string body, content_type;
    int status;
    std::string error;
  };
  const Case cases[] = {
      {"{not json", "application/json", 400, R"({"error":"the request body is not valid JSON"})"},
      {"{}", "application/json", 400, R"({"error":"input 'message' is required","field":"message"})"},
      {R"({"message":42})", "application/json", 400,
       R"({"error":"input 'message' must be a string, got integer","field":"message"})"},
      {R"({"message":"01234567890"})", "application/json", 400,
       R"({"error":"input 'message' is too long: 11 characters, at most 10","field":"message"})"},
      {"message=hi", "application/x-www-form-urlencoded", 415,
       R"({"error":"content type 'application/x-www-form-urlencoded' is not supported; send application/json"})"},
      {std::string(2 << 20, ' '), "application/json", 413,
       R"({"error":"request body is 2097152 bytes; the limit is 1048576"})"},
  };
  for (const auto& c : cases) {
    HttpResponse response = fixture.Post(c.body, c.content_type);
    EXPECT_EQ(response.status, c.status) << c.error;
    EXPECT_FALSE(response.stream);
    EXPECT_EQ(nlohmann::json::parse(response.body), nlohmann::json::parse(c.error));
  }
  EXPECT_TRUE(fixture.client->requests().empty());
}

TEST(FlowService, RoutesKnownPathsAndRejectsOthers) {
  ServiceFixture fixture;
  auto get = [&](const std::string& path, const std::string& method = "GET") {
    return fixture.service.Handle(HttpRequest{method, path, {}, {}, ""});
  };
  EXPECT_EQ(get("/nope").status, 404);
  EXPECT_EQ(nlohmann::json::parse(get("/nope").body)["error"], "no such path: /nope; flows are served at /chat");
  HttpResponse wrong_method = get("/chat");
  EXPECT_EQ(wrong_method.status, 405);
  ASSERT_FALSE(wrong_method.headers.empty());
  EXPECT_EQ(wrong_method.headers[0], (std::pair<std::string, std::string>{"Allow", "POST"}));
  EXPECT_EQ(get("/healthz", "POST").status, 405);
  EXPECT_EQ(nlohmann::json::parse(get("/healthz").body), nlohmann::json::parse(R"({"status":"ok","flows":1,"streams":0})"));
  HttpResponse page = get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("flowrun playground"), std::string::npos);
  auto flows = nlohmann::json::parse(get("/flows").body);
  EXPECT_EQ(flows["flows"][0]["name"], "chat");
  EXPECT_EQ(flows["flows"][0]["endpoint"], "/chat");
  EXPECT_EQ(flows["flows"][0]["inputs"]["message"], nlohmann::json::parse(R"({"type":"string","required":true,"max_length":10})"));
  EXPECT_EQ(flows["flows"][0]["steps"].size(), 3u);
}

TEST(FlowService, RefusesTwoFlowsOnOneEndpoint) {
  StepRegistry registry = testing::BuiltinRegistry();
  auto environment = testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>());
  auto a = LoadFlowFromString(kChat, "a.yaml", registry, environment);
  auto b = LoadFlowFromString(kChat, "b.yaml", registry, environment);
  FlowService service;
  Status status = service.SetFlows({a.flow, b.flow});
  EXPECT_EQ(status.message(), "flows 'chat' (a.yaml) and 'chat' (b.yaml) both use endpoint /chat");
}

TEST(FlowService, StopsTheRunWhenTheClientIsGone) {
  ServiceFixture fixture;
  fixture.client->deltas = {"a", "b", "c", "d", "e", "f"};
  StringWriter writer;
  writer.writes_left_ = 2;
  testing::DriveStream(fixture.Post(R"({"message":"hi"})"), writer);
  EXPECT_EQ(writer.text, "event: chunk\nid: 1\ndata: \"a\"\n\nevent: chunk\nid: 2\ndata: \"b\"\n\n");
  EXPECT_EQ(fixture.client->offered, 3);  // "c" was refused; d, e, f were never produced
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

class CountingWriter : public StreamWriter {
 public:
  bool Write(std::string_view bytes) override {
    writes.emplace_back(bytes);
    return true;
  }
  std::vector<std::string> writes;
};

// A burst of tokens that arrived together leaves in one send; paced tokens
// leave one by one.
TEST(FlowService, ChunksThatArriveTogetherLeaveInOneWrite) {
  for (bool paced : {true, false}) {
    ServiceFixture fixture;
    fixture.client->deltas = {"a", "b", "c", "d"};
    fixture.client->flush_each = paced;
    CountingWriter writer;
    testing::DriveStream(fixture.Post(R"({"message":"hi"})"), writer);
    ASSERT_EQ(writer.writes.size(), paced ? 5u : 2u);  // chunks, then done
    EXPECT_EQ(writer.writes.back(), "event: done\nid: 5\ndata: [DONE]\n\n");
    if (!paced) {
      EXPECT_EQ(testing::ParseSse(writer.writes[0]).size(), 4u);
    }
  }
}

}  // namespace
}  // namespace flowrun
