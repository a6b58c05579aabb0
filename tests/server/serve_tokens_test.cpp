// Token usage over real sockets: a served flow with two mock model steps
// counts each step's tokens in flowrun_tokens_total{flow,step,kind} (the
// numbers its step:after events report) and logs the run's totals, from
// the native endpoint and from /v1/chat/completions (streamed or not), in
// text and JSON logs; a flow with no model step logs no token fields.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using nlohmann::json;

// The mock counts the words of the messages it is sent as prompt tokens
// and streams one token per word: `draft` is sent "hello there" (2) and
// answers "one two three" (3) into the state only; `reply` is sent "Polish
// the draft." and "hello there" (5) and streams "one two three four" (4).
const char kDuoFlow[] = R"(version: 1
name: duo
endpoint: /duo
input:
  message: string
steps:
  - type: append-message
    content: "{{ input.message }}"
  - id: draft
    type: llm-stream
    provider: mock
    stream: false
    mock_reply: one two three
    output: draft
  - id: reply
    type: llm-stream
    provider: mock
    system: Polish the draft.
    mock_reply: "{{ draft }} four"
)";

const char kEchoFlow[] = R"(version: 1
name: echo
endpoint: /echo
input:
  message: string
steps:
  - type: append-message
    content: "{{ input.message }}"
)";

// A directory holding both flows, removed with the fixture.
class ServeTokens : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flowrun-tokens-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "duo.yaml") << kDuoFlow;
    std::ofstream(dir_ / "echo.yaml") << kEchoFlow;
    log_ = (dir_ / "serve.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::filesystem::path dir_;
  std::string log_;
};

const std::map<std::string, std::optional<std::string>> kOffline = {{"OPENAI_API_KEY", std::nullopt},
                                                                    {"OPENAI_BASE_URL", std::nullopt}};

std::string TokenLine(const std::string& step, const std::string& kind, long long count) {
  return "flowrun_tokens_total{flow=\"duo\",step=\"" + step + "\",kind=\"" + kind + "\"} " + std::to_string(count) +
         "\n";
}

// Polls /metrics until it holds every line of `want` (streams are counted
// as they end, so allow for the last one still being counted).
std::string WaitForMetrics(int port, const std::vector<std::string>& want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string body;
  for (;;) {
    body = testing::RawRequest(port, "GET", "/metrics").body;
    bool all = true;
    for (const auto& line : want) all = all && body.find(line) != std::string::npos;
    if (all || std::chrono::steady_clock::now() > deadline) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<std::string> DuoLines(long long runs) {
  return {TokenLine("draft", "prompt", 2 * runs), TokenLine("draft", "completion", 3 * runs),
          TokenLine("reply", "prompt", 5 * runs), TokenLine("reply", "completion", 4 * runs)};
}

void ExpectAll(const std::string& body, const std::vector<std::string>& want) {
  for (const auto& line : want) EXPECT_NE(body.find(line), std::string::npos) << line << "in:\n" << body;
}

// The log line of request `id` (empty when there is none).
std::string LineOf(const std::string& log, const std::string& id) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("[" + id + "] ") != std::string::npos || line.find("\"request_id\":\"" + id + "\"") != std::string::npos) {
      return line;
    }
  }
  return "";
}

TEST_F(ServeTokens, CountedPerStepAndLoggedFromNativeAndV1Runs) {
  testing::ServeProcess server({dir_.string()}, kOffline, log_);
  ASSERT_GT(server.port(), 0);
  auto run = testing::RawRequest(server.port(), "POST", "/duo?events=all", R"({"message":"hello there"})",
                                 {{"Content-Type", "application/json"}, {"X-Request-Id", "tok-native"}});
  ASSERT_EQ(run.status, 200);
  // What the run's own events say each step used.
  std::map<std::string, json> usage;
  std::map<std::string, long long> chunks;
  json done;
  for (const auto& event : testing::ParseSse(run.body)) {
    const json data = json::parse(event.at("data"));
    if (event.at("event") == "step:after" && data.contains("usage")) usage[data["step"].get<std::string>()] = data["usage"];
    if (event.at("event") == "chunk") ++chunks[data["step"].get<std::string>()];
    if (event.at("event") == "done") done = data;
  }
  ASSERT_EQ(usage.size(), 2u) << run.body;
  EXPECT_EQ(usage["draft"], json({{"prompt_tokens", 2}, {"completion_tokens", 3}})) << run.body;
  EXPECT_EQ(usage["reply"], json({{"prompt_tokens", 5}, {"completion_tokens", 4}})) << run.body;
  EXPECT_EQ(chunks["reply"], 4);  // one token per chunk
  EXPECT_EQ(chunks.count("draft"), 0u);
  EXPECT_EQ(done["usage"], json({{"prompt_tokens", 7}, {"completion_tokens", 7}})) << run.body;
  std::vector<std::string> from_events;
  for (const auto& [step, counts] : usage) {
    from_events.push_back(TokenLine(step, "prompt", counts["prompt_tokens"].get<long long>()));
    from_events.push_back(TokenLine(step, "completion", counts["completion_tokens"].get<long long>()));
  }
  std::string metrics = WaitForMetrics(server.port(), from_events);
  ExpectAll(metrics, from_events);
  EXPECT_NE(metrics.find("# HELP flowrun_tokens_total Tokens model steps used, by flow, step id and kind (prompt, "
                         "completion), as their providers reported them.\n# TYPE flowrun_tokens_total counter\n"),
            std::string::npos)
      << metrics;

  // The facade's runs count the same steps, answered in one completion...
  const std::string v1_body = R"({"model":"duo","messages":[{"role":"user","content":"hello there"}]})";
  auto whole = testing::RawRequest(server.port(), "POST", "/v1/chat/completions", v1_body,
                                   {{"Content-Type", "application/json"}, {"X-Request-Id", "tok-v1"}});
  ASSERT_EQ(whole.status, 200) << whole.body;
  const json completion = json::parse(whole.body);
  EXPECT_EQ(completion["usage"]["prompt_tokens"], 7) << whole.body;
  EXPECT_EQ(completion["usage"]["completion_tokens"], 7) << whole.body;
  ExpectAll(WaitForMetrics(server.port(), DuoLines(2)), DuoLines(2));
  // ... or streamed.
  auto streamed = testing::RawRequest(server.port(), "POST", "/v1/chat/completions",
                                      R"({"model":"duo","stream":true,"messages":[{"role":"user","content":"hello there"}]})",
                                      {{"Content-Type", "application/json"}, {"X-Request-Id", "tok-v1-stream"}});
  ASSERT_EQ(streamed.status, 200);
  metrics = WaitForMetrics(server.port(), DuoLines(3));
  ExpectAll(metrics, DuoLines(3));

  // A flow without a model step has no token series and no token fields.
  auto echo = testing::RawRequest(server.port(), "POST", "/echo", R"({"message":"hi"})",
                                  {{"Content-Type", "application/json"}, {"X-Request-Id", "tok-echo"}});
  ASSERT_EQ(echo.status, 200);
  metrics = WaitForMetrics(server.port(), {"flowrun_streams_total{flow=\"echo\",outcome=\"done\"} 1\n"});
  EXPECT_EQ(metrics.find("flowrun_tokens_total{flow=\"echo\""), std::string::npos) << metrics;

  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0);
  const std::string log = Log();
  const std::regex totals(
      R"(\] POST (/duo|/v1/chat/completions) \(duo\) 200 stream done, 4 chunks, first chunk [0-9.]+ ms, total [0-9.]+ ms, tokens 7 prompt \+ 7 completion$)");
  for (const char* id : {"tok-native", "tok-v1", "tok-v1-stream"}) {
    const std::string line = LineOf(log, id);
    EXPECT_TRUE(std::regex_search(line, totals)) << id << ": " << line << "\nlog:\n" << log;
  }
  const std::string echo_line = LineOf(log, "tok-echo");
  EXPECT_TRUE(std::regex_search(
      echo_line, std::regex(R"(\] POST /echo \(echo\) 200 stream done, 0 chunks, first chunk none, total [0-9.]+ ms$)")))
      << echo_line;
}

TEST_F(ServeTokens, JsonLogCarriesTheRunsTotals) {
  {
    testing::ServeProcess server({dir_.string(), "--log-format", "json"}, kOffline, log_);
    ASSERT_GT(server.port(), 0);
    EXPECT_EQ(testing::RawRequest(server.port(), "POST", "/duo", R"({"message":"hello there"})",
                                  {{"Content-Type", "application/json"}, {"X-Request-Id", "tok-json"}})
                  .status,
              200);
    EXPECT_EQ(testing::RawRequest(server.port(), "POST", "/echo", R"({"message":"hi"})",
                                  {{"Content-Type", "application/json"}, {"X-Request-Id", "tok-json-echo"}})
                  .status,
              200);
  }
  const std::string log = Log();
  const json duo = json::parse(LineOf(log, "tok-json"), nullptr, false);
  ASSERT_TRUE(duo.is_object()) << log;
  EXPECT_EQ(duo["outcome"], "done");
  EXPECT_EQ(duo["prompt_tokens"], 7) << duo.dump();
  EXPECT_EQ(duo["completion_tokens"], 7) << duo.dump();
  const std::string msg = duo["msg"];
  EXPECT_TRUE(msg.ends_with(", tokens 7 prompt + 7 completion")) << msg;
  const json echo = json::parse(LineOf(log, "tok-json-echo"), nullptr, false);
  ASSERT_TRUE(echo.is_object()) << log;
  EXPECT_EQ(echo["outcome"], "done");
  EXPECT_FALSE(echo.contains("prompt_tokens")) << echo.dump();
  EXPECT_FALSE(echo.contains("completion_tokens")) << echo.dump();
}

}  // namespace
}  // namespace flowrun
