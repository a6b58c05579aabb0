// GET /flows/<name>/graph: the served flow's graph as JSON (what the
// playground draws) or as Mermaid / DOT text; unknown names and formats,
// wrong methods, and a flow endpoint that happens to look like a graph path.
#include "server/graph_endpoint.h"

#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/flow_loader.h"
#include "server/flow_service.h"

namespace flowrun {
namespace {

std::shared_ptr<const Flow> Load(const std::string& name, const std::string& endpoint) {
  const std::string source = "version: 1\nname: " + name + "\nendpoint: " + endpoint +
                             "\nsteps:\n  - id: user\n    type: append-message\n    content: hi\n"
                             "  - id: reply\n    type: llm-stream\n";
  auto loaded = LoadFlowFromString(source, name + ".yaml", testing::BuiltinRegistry(),
                                   testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>()));
  EXPECT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  return loaded.flow;
}

struct Service {
  FlowService service;
  Service() { EXPECT_TRUE(service.SetFlows({Load("chat", "/chat"), Load("other", "/flows/chat/graph")}).ok()); }
  HttpResponse Handle(const std::string& method, const std::string& path,
                      std::map<std::string, std::string> query = {}) {
    return service.Handle(HttpRequest{method, path, std::move(query), {}, ""});
  }
};

TEST(GraphEndpoint, ServesTheGraphAsJson) {
  Service fixture;
  HttpResponse response = fixture.Handle("GET", "/flows/other/graph");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(response.body), nlohmann::json::parse(R"({
    "name": "other",
    "nodes": [
      {"kind": "start"},
      {"kind": "step", "path": "user", "id": "user", "type": "append-message", "parent": "", "block": "",
       "blocks": [], "detail": "", "if": "", "line": 5},
      {"kind": "step", "path": "reply", "id": "reply", "type": "llm-stream", "parent": "", "block": "",
       "blocks": [], "detail": "", "if": "", "line": 8},
      {"kind": "end"}
    ],
    "edges": [
      {"from": 0, "to": 1, "label": "", "kind": "next"},
      {"from": 1, "to": 2, "label": "", "kind": "next"},
      {"from": 2, "to": 3, "label": "", "kind": "next"}
    ]
  })"));
}

TEST(GraphEndpoint, ServesMermaidAndDotText) {
  Service fixture;
  HttpResponse mermaid = fixture.Handle("GET", "/flows/other/graph", {{"format", "mermaid"}});
  EXPECT_EQ(mermaid.status, 200);
  EXPECT_EQ(mermaid.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(mermaid.body, "flowchart TD\n  flow_start((\"start\"))\n  user[\"user<br/>append-message\"]\n"
                          "  reply[\"reply<br/>llm-stream\"]\n  flow_end((\"end\"))\n  flow_start --> user\n"
                          "  user --> reply\n  reply --> flow_end\n");
  HttpResponse dot = fixture.Handle("GET", "/flows/other/graph", {{"format", "dot"}});
  EXPECT_EQ(dot.status, 200);
  EXPECT_EQ(dot.content_type, "text/vnd.graphviz; charset=utf-8");
  EXPECT_EQ(dot.body.rfind("digraph \"other\" {\n", 0), 0u) << dot.body;
}

TEST(GraphEndpoint, RefusesWhatItCannotServe) {
  Service fixture;
  HttpResponse format = fixture.Handle("GET", "/flows/other/graph", {{"format", "svg"}});
  EXPECT_EQ(format.status, 400);
  EXPECT_EQ(format.body, "{\"error\":\"unknown graph format 'svg'; use json, mermaid or dot\",\"field\":\"format\"}\n");
  HttpResponse post = fixture.Handle("POST", "/flows/other/graph");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.body, "{\"error\":\"method POST is not allowed on /flows/other/graph; use GET\"}\n");
  HttpResponse unknown = fixture.Handle("GET", "/flows/nope/graph");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "{\"error\":\"no such path: /flows/nope/graph; flows are served at /chat, "
                          "/flows/chat/graph\"}\n");
  EXPECT_EQ(fixture.Handle("GET", "/flows//graph").status, 404);
  EXPECT_EQ(fixture.Handle("GET", "/flows/a/b/graph").status, 404);
}

TEST(GraphEndpoint, AFlowEndpointWins) {
  // `other` is served at /flows/chat/graph: that path stays its POST endpoint.
  Service fixture;
  HttpResponse get = fixture.Handle("GET", "/flows/chat/graph");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.body, "{\"error\":\"method GET is not allowed on /flows/chat/graph; use POST\"}\n");
}

}  // namespace
}  // namespace flowrun
