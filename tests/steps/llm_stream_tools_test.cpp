// llm-stream's tools: the mock scripts the model's tool calls; http tools
// run against a fake API on 127.0.0.1 (several calls of one answer at
// once), flow tools run a flow loaded beside; each result (or error: an
// unknown tool, arguments that are not JSON or break `parameters`, a
// failing API) goes back to the model as the tool's message; the rounds are
// bounded; tool_call / tool_result events and step:after's `tools`; a
// cancelled step aborts the tool's request in flight; load-time errors.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "fakes/fake_json_api.h"
#include "flow/flow_library.h"
#include "fakes/recording_mock_client.h"
#include "flow/flow_test_support.h"
#include "llm/mock_client.h"

namespace flowrun {
namespace {

using nlohmann::json;
using testing::FakeJsonApi;

using testing::RecordingMock;

// An agent with two http tools against `port`; `script` is its mock_replies.
std::string Agent(int port, const std::string& script) {
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);
  return R"yaml(version: 1
name: agent
input: {message: string}
steps:
  - id: agent
    type: llm-stream
    messages: [{role: user, content: "{{ input.message }}"}]
    tools:
      - name: lookup_order
        description: Find an order by its id
        parameters:
          type: object
          properties: {order_id: {type: string, pattern: "^[0-9]+$"}}
          required: [order_id]
        http:
          url: ")yaml" + origin + R"yaml(/orders/{{ args.order_id }}"
      - name: refund
        description: Refund an order
        parameters:
          type: object
          properties: {order_id: {type: string}, reason: {type: string}}
          required: [order_id]
        http:
          method: POST
          url: )yaml" + origin + R"yaml(/refunds
          json: {order: "{{ args.order_id }}", reason: "{{ args.reason | default('none') }}", asked: "{{ input.message }}"}
    mock_replies:
)yaml" + script;
}

FakeJsonApi::Answer Orders(const testing::RecordedRequest& request) {
  if (request.path == "/orders/42") return {200, R"({"id":"42","status":"shipped"})"};
  if (request.path == "/refunds") return {201, R"({"refund":"r-1"})"};
  return {404, R"({"error":"no such order"})"};
}

TEST(LlmStreamTools, TheModelCallsHttpToolsAndAnswersWithTheirResults) {
  FakeJsonApi api(Orders);
  auto client = std::make_shared<RecordingMock>();
  auto flow = testing::LoadOrFail(Agent(api.port(), R"yaml(      - tool_calls: [{name: lookup_order, arguments: {order_id: "42"}, id: c1}]
      - "Order 42 has shipped."
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(client));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "where is order 42?"}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["reply"], "Order 42 has shipped.");
  ASSERT_EQ(api.requests().size(), 1u);
  EXPECT_EQ(api.requests()[0].method, "GET");
  EXPECT_EQ(api.requests()[0].path, "/orders/42");

  const std::vector<ChatRequest> requests = client->requests();
  ASSERT_EQ(requests.size(), 2u);
  ASSERT_EQ(requests[0].tools.size(), 2u);
  EXPECT_EQ(requests[0].tools[0].name, "lookup_order");
  EXPECT_EQ(requests[0].tools[0].description, "Find an order by its id");
  EXPECT_EQ(requests[0].tools[0].parameters["required"], json::parse(R"(["order_id"])"));
  const std::vector<ChatMessage>& second = requests[1].messages;
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[1].role, "assistant");
  ASSERT_EQ(second[1].tool_calls.size(), 1u);
  EXPECT_EQ(second[1].tool_calls[0].id, "c1");
  EXPECT_EQ(second[2].role, "tool");
  EXPECT_EQ(second[2].tool_call_id, "c1");
  EXPECT_EQ(second[2].content, R"({"id":"42","status":"shipped"})");

  const std::vector<std::string> expected = {
      "before agent",
      R"(tool_call agent {"arguments":{"order_id":"42"},"id":"c1","name":"lookup_order"})",
      "chunk agent Order", "chunk agent  42", "chunk agent  has", "chunk agent  shipped.", "after agent", "done ok"};
  ASSERT_EQ(run.events.size(), expected.size() + 1) << "and one tool_result";
  EXPECT_EQ(run.events[0], expected[0]);
  EXPECT_EQ(run.events[1], expected[1]);
  const Event& result = run.raw[2];
  ASSERT_EQ(result.type, Event::Type::kToolResult);
  EXPECT_EQ(result.detail["result"], json::parse(R"({"id":"42","status":"shipped"})"));
  EXPECT_EQ(result.detail["name"], "lookup_order");
  EXPECT_TRUE(result.detail["duration_ms"].is_number());
  const Event& after = run.raw[run.raw.size() - 2];
  ASSERT_EQ(after.type, Event::Type::kStepAfter);
  ASSERT_TRUE(after.detail.is_array());
  ASSERT_EQ(after.detail.size(), 1u);
  EXPECT_EQ(after.detail[0]["name"], "lookup_order");
  EXPECT_EQ(after.detail[0]["ok"], true);
  EXPECT_EQ(EventData(after)["tools"][0]["arguments"], json::parse(R"({"order_id":"42"})"));
}

TEST(LlmStreamTools, SeveralCallsOfOneAnswerRunAtOnce) {
  // Set after the fake starts, read on its threads: atomic, as sockets are no synchronisation to TSan.
  std::atomic<FakeJsonApi*> shared{nullptr};
  FakeJsonApi api([&shared](const testing::RecordedRequest& request) {
    shared.load()->WaitForInFlight(2, std::chrono::seconds(5));  // both must be in flight, or this one waits 5 s
    return Orders(request);
  });
  shared = &api;
  auto client = std::make_shared<RecordingMock>();
  auto flow = testing::LoadOrFail(Agent(api.port(), R"yaml(      - tool_calls:
          - {name: lookup_order, arguments: {order_id: "42"}}
          - {name: refund, arguments: {order_id: "42", reason: "late \"very\"\nlate"}}
      - "Done."
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(client));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "refund 42"}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(api.max_in_flight(), 2) << "the two calls did not overlap";
  const std::vector<ChatRequest> requests = client->requests();
  ASSERT_EQ(requests.size(), 2u);
  const std::vector<ChatMessage>& second = requests[1].messages;
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(second[2].tool_call_id, "call_1");
  EXPECT_EQ(second[3].tool_call_id, "call_2");
  EXPECT_EQ(second[3].content, R"({"refund":"r-1"})");
  // The body is real JSON whatever the arguments hold.
  for (const auto& request : api.requests()) {
    if (request.path != "/refunds") continue;
    EXPECT_EQ(json::parse(request.body), json::parse(R"({"order":"42","reason":"late \"very\"\nlate","asked":"refund 42"})"));
  }
}

TEST(LlmStreamTools, ToolErrorsGoBackToTheModelAsResults) {
  FakeJsonApi api(Orders);
  auto client = std::make_shared<RecordingMock>();
  auto flow = testing::LoadOrFail(Agent(api.port(), R"yaml(      - tool_calls:
          - {name: lookup_order, arguments: "{\"order_id\": 42"}
          - {name: lookup_order, arguments: {order_id: "x1"}}
          - {name: lookup_order, arguments: {order_id: "7"}}
          - {name: cancel_order, arguments: {}}
      - "Sorry."
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(client));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "?"}});
  ASSERT_TRUE(run.result.ok) << "a tool error is never the step's: " << run.result.error;
  const std::vector<ChatMessage> messages = client->requests().at(1).messages;
  ASSERT_EQ(messages.size(), 6u);
  EXPECT_EQ(json::parse(messages[2].content)["error"],
            "the arguments are not valid JSON (or nest deeper than 64 levels): {\"order_id\": 42");
  EXPECT_EQ(json::parse(messages[3].content)["error"],
            "the arguments do not match the tool's parameters: $.order_id: \"x1\" does not match the pattern "
            "\"^[0-9]+$\" (pattern)");
  EXPECT_EQ(json::parse(messages[4].content)["error"],
            "GET http://127.0.0.1:" + std::to_string(api.port()) +
                "/orders/{{ args.order_id }} answered HTTP 404: {\"error\":\"no such order\"}");
  EXPECT_EQ(json::parse(messages[5].content)["error"],
            "there is no tool named 'cancel_order'; the tools are: lookup_order, refund");
  EXPECT_EQ(api.requests().size(), 1u) << "only the valid call reached the API";
}

TEST(LlmStreamTools, RoundsAreBoundedByMaxToolRounds) {
  FakeJsonApi api(Orders);
  auto flow = testing::LoadOrFail(Agent(api.port(), R"yaml(      - tool_calls: [{name: lookup_order, arguments: {order_id: "42"}}]
    max_tool_rounds: 2
)yaml"),
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
  ASSERT_TRUE(flow);
  testing::Traced run = testing::TraceRun(*flow, {{"message", "loop"}});
  ASSERT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error, "the model still asked for tools after 2 rounds (max_tool_rounds)");
  EXPECT_EQ(api.requests().size(), 2u);
}

TEST(LlmStreamTools, AFlowToolRunsTheFlowBesideWithTheArgumentsAsInput) {
  const auto registry = testing::BuiltinRegistry();
  auto client = std::make_shared<RecordingMock>();
  const auto environment = testing::FakeEnvironment(client);
  auto helper = testing::LoadOrFail(R"yaml(version: 1
name: summarize
input: {text: string}
steps:
  - type: llm-stream
    messages: [{role: user, content: "Summarize: {{ input.text }}"}]
    mock_reply: "Short: {{ input.text | upper }}"
)yaml",
                                    registry, environment);
  auto main = testing::LoadOrFail(R"yaml(version: 1
name: main
input: {message: string}
steps:
  - id: agent
    type: llm-stream
    tools:
      - name: summarize
        parameters: {type: object, properties: {text: {type: string}}, required: [text]}
        flow: summarize
    mock_replies:
      - tool_calls: [{name: summarize, arguments: {text: "{{ input.message }}"}}]
      - "ok"
)yaml",
                                  registry, environment);
  ASSERT_TRUE(helper && main);
  auto library = std::make_shared<FlowLibrary>(std::vector<std::shared_ptr<const Flow>>{helper, main});
  testing::Traced run = testing::TraceRun(*main, {{"message", "abc"}}, library);
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["reply"], "ok") << "the called flow's text is the tool's, never the client's";
  for (const auto& line : run.events) {
    EXPECT_EQ(line.find("chunk agent/tool.summarize"), std::string::npos) << line;
  }
  const std::vector<ChatRequest> requests = client->requests();
  ASSERT_EQ(requests.size(), 3u);  // agent, summarize's step, agent again
  EXPECT_EQ(requests[2].messages.back().content, "Short: ABC");
  EXPECT_NE(std::find(run.events.begin(), run.events.end(), "before agent/tool.summarize/step1"), run.events.end());
}

TEST(LlmStreamTools, ACancelledStepAbortsTheToolRequestInFlight) {
  testing::FakeOpenAiUpstream api;  // answers any path; this one never finishes
  ASSERT_GT(api.port(), 0);
  testing::FakeUpstreamScript script;
  script.content_type = "application/json";
  script.pieces = {"{"};
  script.end = testing::FakeUpstreamScript::End::kTrickle;
  api.SetScript(script);
  auto flow = testing::LoadOrFail(R"yaml(version: 1
name: slow
steps:
  - id: agent
    type: llm-stream
    timeout_ms: 300
    tools:
      - name: wait
        http: {url: "http://127.0.0.1:)yaml" + std::to_string(api.port()) + R"yaml(/slow"}
    mock_replies: [{tool_calls: [{name: wait}]}, "never"]
)yaml",
                                  testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
  ASSERT_TRUE(flow);
  const auto started = std::chrono::steady_clock::now();
  testing::Traced run = testing::TraceRun(*flow);
  EXPECT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error, "step 'agent' timed out after 300 ms (timeout_ms)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!api.client_gone_at() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(api.client_gone_at()) << "the tool's request was never aborted";
  EXPECT_LT(*api.client_gone_at() - started, std::chrono::seconds(5));
}

TEST(LlmStreamTools, LoadErrorsPointAtTheTool) {
  const std::string yaml = R"yaml(version: 1
name: bad
input: {message: string}
steps:
  - type: llm-stream
    tools:
      - name: lookup order
        http: {url: "http://127.0.0.1:1/x"}
      - name: dup
        flow: other
        http: {url: "http://127.0.0.1:1/x"}
      - name: typo
        http: {url: "http://127.0.0.1:1/{{ arg.id }}"}
)yaml";
  EXPECT_EQ(testing::LoadErrors(yaml, testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({}))),
            "flows/x.yaml:7:15: error: tool name 'lookup order' may only hold letters, digits, '_' and '-' (at most 64)\n"
            "          - name: lookup order\n"
            "                  ^~~~~~~~~~~~\n"
            "flows/x.yaml:9:9: error: tool 'dup' needs one of 'http' (a request) or 'flow' (a flow's name)\n"
            "          - name: dup\n"
            "            ^\n"
            "flows/x.yaml:13:44: error: unknown variable 'arg'; did you mean 'args'?\n"
            "            http: {url: \"http://127.0.0.1:1/{{ arg.id }}\"}\n"
            "                                               ^~~\n");
}

TEST(LlmStreamTools, AToolCannotLetTheModelChooseTheHost) {
  const std::string yaml = R"yaml(version: 1
name: bad
steps:
  - type: llm-stream
    tools:
      - name: fetch
        http: {url: "http://{{ args.host }}/x"}
)yaml";
  EXPECT_EQ(testing::LoadErrors(yaml, testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({}))),
            "flows/x.yaml:7:21: error: tool 'fetch': 'url' must name its scheme and host literally, before any "
            "{{ }}, so that no request value can choose where flowrun connects\n"
            "            http: {url: \"http://{{ args.host }}/x\"}\n"
            "                        ^~~~~~~~~~~~~~~~~~~~~~~~~~\n");
}

}  // namespace
}  // namespace flowrun
