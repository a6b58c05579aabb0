// The examples of issue #13 in flows/, run as users run them: the support
// agent's two http tools against a fake support API on 127.0.0.1 (the
// example's fixed port rewritten to the fake's), in `run --events` and in
// `serve` with ?events=all; the extractor's output_schema retry and the
// object it branches on; the native chat on a fake Anthropic and a fake
// Ollama upstream, and on the mock when neither is configured.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fakes/fake_json_api.h"
#include "fakes/fake_openai_upstream.h"
#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using nlohmann::json;
using testing::RunProcess;

const std::string kBinary = FLOWRUN_BINARY;
const std::string kFlows = std::string(FLOWRUN_SOURCE_DIR) + "/flows/";
const std::map<std::string, std::optional<std::string>> kOffline = {
    {"OPENAI_API_KEY", std::nullopt},   {"OPENAI_BASE_URL", std::nullopt}, {"ANTHROPIC_API_KEY", std::nullopt},
    {"ANTHROPIC_BASE_URL", std::nullopt}, {"OLLAMA_HOST", std::nullopt},   {"OLLAMA_BASE_URL", std::nullopt}};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The support agent with its API at `port` instead of 8787.
std::string SupportAgentAt(int port) {
  std::string text = ReadFile(kFlows + "support-agent.yaml");
  const std::string fixed = "127.0.0.1:8787";
  for (size_t at = text.find(fixed); at != std::string::npos; at = text.find(fixed, at)) {
    text.replace(at, fixed.size(), "127.0.0.1:" + std::to_string(port));
  }
  return testing::WriteTempFile("support-agent.yaml", text);
}

testing::FakeJsonApi::Answer SupportApi(const testing::RecordedRequest& request) {
  if (request.method == "GET" && request.path == "/orders/42") {
    return {200, R"({"id":"42","status":"delayed","items":["kettle"]})"};
  }
  if (request.method == "POST" && request.path == "/tickets") return {201, R"({"ticket":"T-7"})"};
  return {404, R"({"error":"not found"})"};
}

std::vector<json> Lines(const std::string& out) {
  std::vector<json> events;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
  return events;
}

std::vector<json> Named(const std::vector<json>& events, const std::string& name) {
  std::vector<json> found;
  for (const auto& event : events) {
    if (event.value("event", "") == name) found.push_back(event);
  }
  return found;
}

const char* kAgentAnswer = "I looked order 42 up and opened a ticket for it; our team will get back to you within a day.";

TEST(ExampleModelFlows, SupportAgentCallsBothToolsAndAnswers) {
  testing::FakeJsonApi api(SupportApi);
  const std::string flow = SupportAgentAt(api.port());
  const auto result = RunProcess({kBinary, "run", flow, "--events", "--input", "message=where is my order 42?"},
                                 kOffline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<json> events = Lines(result.out);
  const std::vector<json> calls = Named(events, "tool_call");
  ASSERT_EQ(calls.size(), 2u) << result.out;
  EXPECT_EQ(calls[0]["name"], "lookup_order");
  EXPECT_EQ(calls[0]["arguments"], json::parse(R"({"order_id":"42"})"));
  EXPECT_EQ(calls[1]["name"], "open_ticket");
  const std::vector<json> results = Named(events, "tool_result");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["result"], json::parse(R"({"id":"42","status":"delayed","items":["kettle"]})"));
  EXPECT_EQ(results[1]["result"], json::parse(R"({"ticket":"T-7"})"));
  std::string text;
  for (const auto& chunk : Named(events, "chunk")) text += chunk["text"].get<std::string>();
  EXPECT_EQ(text, kAgentAnswer);
  ASSERT_EQ(api.requests().size(), 2u);
  const json ticket = json::parse(api.requests()[1].body);
  EXPECT_EQ(ticket, json::parse(R"({"order":"42","summary":"Customer asks: where is my order 42?",
                                     "customer_said":"where is my order 42?"})"));
  for (const auto& after : Named(events, "step:after")) {
    if (after["step"] != "agent") continue;
    ASSERT_EQ(after["tools"].size(), 2u);
    EXPECT_EQ(after["tools"][1]["name"], "open_ticket");
    EXPECT_GT(after["usage"]["completion_tokens"].get<int>(), 0);
  }
}

TEST(ExampleModelFlows, SupportAgentServedStreamsToolEventsOnlyWhenAsked) {
  testing::FakeJsonApi api(SupportApi);
  const std::string flow = SupportAgentAt(api.port());
  testing::ServeProcess server({flow}, kOffline);
  ASSERT_GT(server.port(), 0) << "flowrun serve did not start";
  const std::string body = R"({"message":"where is my order 42?"})";
  auto all = testing::RawRequest(server.port(), "POST", "/support?events=all", body);
  ASSERT_EQ(all.status, 200) << all.body;
  std::vector<std::string> names;
  for (const auto& event : testing::ParseSse(all.body)) {
    if (names.empty() || names.back() != event.at("event")) names.push_back(event.at("event"));
  }
  const std::vector<std::string> expected = {"step:before", "step:after", "step:before", "tool_call", "tool_result",
                                             "tool_call",   "tool_result", "chunk",      "step:after", "step:before",
                                             "step:after",  "done"};
  EXPECT_EQ(names, expected);
  auto plain = testing::RawRequest(server.port(), "POST", "/support", body);
  ASSERT_EQ(plain.status, 200) << plain.body;
  std::string text;
  for (const auto& event : testing::ParseSse(plain.body)) {
    EXPECT_TRUE(event.at("event") == "chunk" || event.at("event") == "done") << event.at("event");
    if (event.at("event") == "chunk") text += json::parse(event.at("data")).get<std::string>();
  }
  EXPECT_EQ(text, kAgentAnswer);
}

TEST(ExampleModelFlows, ExtractorRetriesUntilTheRecordFollowsTheSchema) {
  const auto result = RunProcess({kBinary, "run", kFlows + "extractor.yaml", "--events", "--input",
                                  "message=Ada here (ada@example.com): my kettle arrived broken"},
                                 kOffline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<json> events = Lines(result.out);
  std::string text;
  for (const auto& chunk : Named(events, "chunk")) {
    EXPECT_NE(chunk["step"], "extract") << "the record never streams";
    text += chunk["text"].get<std::string>();
  }
  EXPECT_EQ(text, "Sorry, Ada Lovelace: we will answer your complaint at ada@example.com today.");
  for (const auto& after : Named(events, "step:after")) {
    if (after["step"] == "answer") {
      EXPECT_EQ(after["branch"], "complaint");
    }
  }
}

TEST(ExampleModelFlows, ExtractorServedAnswersFromTheValidatedRecord) {
  testing::ServeProcess server({kFlows + "extractor.yaml"}, kOffline);
  ASSERT_GT(server.port(), 0) << "flowrun serve did not start";
  auto response = testing::RawRequest(server.port(), "POST", "/extract?events=all", R"({"message":"Ada: I love it"})");
  ASSERT_EQ(response.status, 200) << response.body;
  std::string text;
  json done;
  for (const auto& event : testing::ParseSse(response.body)) {
    if (event.at("event") == "chunk") text += json::parse(event.at("data"))["text"].get<std::string>();
    if (event.at("event") == "done") done = json::parse(event.at("data"));
  }
  EXPECT_EQ(text, "Sorry, Ada Lovelace: we will answer your complaint at ada@example.com today.");
  EXPECT_EQ(done["ok"], true);
  EXPECT_GT(done["usage"]["prompt_tokens"].get<int>(), 0) << "three model calls: two answers, then the reply";
}

TEST(ExampleModelFlows, NativeChatRunsOnTheMockOffline) {
  const auto result = RunProcess({kBinary, "run", kFlows + "chat-native.yaml", "--input", "message=hi"}, kOffline);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("You said: \"hi\".", 0), 0u) << result.out;
}

TEST(ExampleModelFlows, NativeChatRunsOnAnthropicWhenItsKeyIsSet) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  auto event = [](const std::string& name, const std::string& data) {
    return "event: " + name + "\ndata: " + data + "\n\n";
  };
  upstream.SetStream({event("message_start", R"({"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[],"usage":{"input_tokens":5,"output_tokens":1}}})"),
                      event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"),
                      event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello from Claude"}})"),
                      event("content_block_stop", R"({"type":"content_block_stop","index":0})"),
                      event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}})"),
                      event("message_stop", R"({"type":"message_stop"})")});
  auto env = kOffline;
  env["ANTHROPIC_API_KEY"] = "sk-ant-test-key-123";
  env["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:" + std::to_string(upstream.port());
  const auto result = RunProcess({kBinary, "run", kFlows + "chat-native.yaml", "--input", "message=hi"}, env);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Hello from Claude\n");
  const testing::RecordedRequest request = upstream.last_request();
  EXPECT_EQ(request.path, "/v1/messages");
  EXPECT_EQ(request.Header("x-api-key"), "sk-ant-test-key-123");
  EXPECT_EQ(json::parse(request.body)["model"], "claude-sonnet-4-5");
  EXPECT_EQ(result.err.find("sk-ant-test-key-123"), std::string::npos) << "the key is never logged";
}

TEST(ExampleModelFlows, NativeChatRunsOnOllamaWhenItsHostIsSet) {
  testing::FakeOpenAiUpstream upstream;
  ASSERT_GT(upstream.port(), 0);
  testing::FakeUpstreamScript script;
  script.content_type = "application/x-ndjson";
  script.pieces = {R"({"model":"llama3.2","message":{"role":"assistant","content":"Hello from"},"done":false})" "\n",
                   R"({"model":"llama3.2","message":{"role":"assistant","content":" Ollama"},"done":false})" "\n",
                   R"({"model":"llama3.2","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":2})" "\n"};
  upstream.SetScript(script);
  auto env = kOffline;
  env["OLLAMA_HOST"] = "127.0.0.1:" + std::to_string(upstream.port());
  const auto result = RunProcess({kBinary, "run", kFlows + "chat-native.yaml", "--input", "message=hi"}, env);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Hello from Ollama\n");
  EXPECT_EQ(upstream.last_request().path, "/api/chat");
  EXPECT_EQ(json::parse(upstream.last_request().body)["model"], "llama3.2");
}

}  // namespace
}  // namespace flowrun
