// GET /metrics: Prometheus text format, checked by parsing the exposition
// after real requests (including an upstream retry through the openai client).
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>

#include "fakes/stream_driver.h"
#include "fakes/fake_llm_client.h"
#include "fakes/fake_openai_upstream.h"
#include "flow/flow_loader.h"
#include "llm/provider_factory.h"
#include "server/flow_service.h"

namespace flowrun {
namespace {

// Parses the text exposition format strictly enough to catch malformed
// output: HELP/TYPE before samples, valid names and labels, numeric values,
// cumulative histogram buckets ending in +Inf == _count.
std::map<std::string, double> ParseExposition(const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  std::map<std::string, std::string> types;
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  std::string line;
  double last_bucket = -1;
  while (std::getline(lines, line)) {
    std::smatch match;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, match, kType)) {
      types[match[1]] = match[2];
      continue;
    }
    EXPECT_TRUE(std::regex_match(line, match, kSample)) << "malformed line: " << line;
    if (match.empty()) continue;
    std::string name = match[1];
    std::string family = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
    EXPECT_TRUE(types.count(name) || (types.count(family) && types[family] == "histogram"))
        << "no TYPE before " << name;
    double value = std::stod(match[4]);
    if (name.ends_with("_bucket")) {
      if (line.find("le=\"0.005\"") != std::string::npos || line.find("le=\"0.1\"") != std::string::npos) last_bucket = -1;
      EXPECT_GE(value, last_bucket) << "buckets must be cumulative: " << line;
      last_bucket = value;
    }
    samples[name + (match[2].matched ? std::string(match[2]) : "")] = value;
  }
  return samples;
}

const char kFlow[] = R"(version: 1
name: chat
endpoint: /chat
input:
  message: {type: string, required: true}
steps:
  - type: append-message
    content: "{{ input.message }}"
  - id: reply
    type: llm-stream
    retry_initial_ms: 1
    retry_max_ms: 5
)";

class NullWriter : public StreamWriter {
 public:
  bool Write(std::string_view) override { return true; }
};

TEST(Metrics, ExpositionAfterRequestsRetriesAndErrors) {
  testing::FakeOpenAiUpstream upstream;
  testing::FakeUpstreamScript unavailable;
  unavailable.status = 503;
  unavailable.content_type = "application/json";
  unavailable.chunked = false;
  unavailable.pieces = {R"({"error":"busy"})"};
  testing::FakeUpstreamScript stream;
  stream.pieces = {testing::OpenAiDeltaEvent("Hi"), testing::OpenAiDeltaEvent(" there"), testing::OpenAiFinishEvent(),
                   testing::kOpenAiDoneEvent};
  testing::FakeUpstreamScript unauthorized = unavailable;
  unauthorized.status = 401;
  upstream.SetScripts({unavailable, stream, unauthorized});

  StepRegistry registry = testing::BuiltinRegistry();
  StepEnvironment environment = testing::FakeEnvironment(nullptr, {{"OPENAI_BASE_URL", upstream.base_url()}});
  environment.make_llm_client = MakeLlmClient;
  auto loaded = LoadFlowFromString(kFlow, "chat.yaml", registry, environment);
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  FlowService service;
  ASSERT_TRUE(service.SetFlows({loaded.flow}).ok());

  NullWriter writer;
  auto post = [&](const std::string& body) {
    HttpResponse response = service.Handle(HttpRequest{"POST", "/chat", {}, {}, body});
    testing::DriveStream(response, writer);
    return response.status;
  };
  EXPECT_EQ(post(R"({"message":"hi"})"), 200);  // 503, retried, then two chunks
  EXPECT_EQ(post(R"({"message":"hi"})"), 200);  // 401: an error event
  EXPECT_EQ(post(R"({})"), 400);
  EXPECT_EQ(service.Handle(HttpRequest{"GET", "/nope", {}, {}, ""}).status, 404);

  HttpResponse metrics = service.Handle(HttpRequest{"GET", "/metrics", {}, {}, ""});
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  auto samples = ParseExposition(metrics.body);
  EXPECT_EQ(samples[R"(flowrun_requests_total{flow="chat",status="200"})"], 2);
  EXPECT_EQ(samples[R"(flowrun_requests_total{flow="chat",status="400"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_other_requests_total{status="404"})"], 1);
  EXPECT_EQ(samples["flowrun_open_streams"], 0);
  EXPECT_EQ(samples[R"(flowrun_streams_total{flow="chat",outcome="done"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_streams_total{flow="chat",outcome="error"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_chunks_sent_total{flow="chat"})"], 2);
  EXPECT_EQ(samples[R"(flowrun_upstream_errors_total{flow="chat"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_upstream_retries_total{flow="chat"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_time_to_first_chunk_seconds_count{flow="chat"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_time_to_first_chunk_seconds_bucket{flow="chat",le="+Inf"})"], 1);
  EXPECT_EQ(samples[R"(flowrun_stream_duration_seconds_count{flow="chat"})"], 2);
  EXPECT_GT(samples[R"(flowrun_stream_duration_seconds_sum{flow="chat"})"], 0);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics metrics;
  metrics.CountRequest("a\"b\\c\nd", 200);
  EXPECT_NE(metrics.Render(0).find(R"(flowrun_requests_total{flow="a\"b\\c\nd",status="200"} 1)"), std::string::npos);
}

TEST(Metrics, TokenSeriesAreBoundedAndStepLabelsEscaped) {
  Metrics metrics;
  metrics.CountTokens("f", "a\"b", 3, 4);
  for (size_t i = 1; i < kMaxTokenSeries; ++i) metrics.CountTokens("f", "s" + std::to_string(i), 1, 1);
  metrics.CountTokens("f", "s1", 1, 1);  // a step already counted keeps its own series
  ::testing::internal::CaptureStderr();
  metrics.CountTokens("g", "late", 5, 6);
  metrics.CountTokens("g", "later", 1, 0);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("metrics: flowrun_tokens_total reached its limit of 1000 flow/step series; the tokens of steps "
                     "not yet counted go to step=\"(other)\"\n"),
            std::string::npos)
      << log;
  const std::string text = metrics.Render(0);
  auto samples = ParseExposition(text);
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="f",step="a\"b",kind="prompt"})"], 3);
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="f",step="a\"b",kind="completion"})"], 4);
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="f",step="s1",kind="completion"})"], 2);
  EXPECT_EQ(samples[R"x(flowrun_tokens_total{flow="g",step="(other)",kind="prompt"})x"], 6);
  EXPECT_EQ(samples[R"x(flowrun_tokens_total{flow="g",step="(other)",kind="completion"})x"], 6);
  EXPECT_EQ(text.find("step=\"late"), std::string::npos);
  size_t series = 0;
  for (size_t at = text.find("\nflowrun_tokens_total{"); at != std::string::npos;
       at = text.find("\nflowrun_tokens_total{", at + 1)) {
    ++series;
  }
  EXPECT_EQ(series, 2 * (kMaxTokenSeries + 1));
}

// A reload (SetFlows) that renames a model step: the old id's counters keep
// their totals, the new id starts its own.
TEST(Metrics, RenamedStepStartsItsOwnTokenSeries) {
  StepRegistry registry = testing::BuiltinRegistry();
  StepEnvironment environment = testing::FakeEnvironment(nullptr);
  environment.make_llm_client = MakeLlmClient;
  FlowService service;
  NullWriter writer;
  for (const std::string id : {"reply", "reply", "answer"}) {
    const std::string text = "version: 1\nname: chat\nendpoint: /chat\ninput:\n  message: string\nsteps:\n"
                             "  - type: append-message\n    content: \"{{ input.message }}\"\n"
                             "  - id: " + id + "\n    type: llm-stream\n    provider: mock\n    mock_reply: fine, thanks\n";
    auto loaded = LoadFlowFromString(text, "chat.yaml", registry, environment);
    ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
    ASSERT_TRUE(service.SetFlows({loaded.flow}).ok());
    HttpResponse response = service.Handle(HttpRequest{"POST", "/chat", {}, {}, R"({"message":"how are you"})"});
    ASSERT_EQ(response.status, 200);
    testing::DriveStream(response, writer);
  }
  auto samples = ParseExposition(service.Handle(HttpRequest{"GET", "/metrics", {}, {}, ""}).body);
  // The mock: 3 words sent, 2 tokens streamed.
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="chat",step="reply",kind="prompt"})"], 6);
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="chat",step="reply",kind="completion"})"], 4);
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="chat",step="answer",kind="prompt"})"], 3);
  EXPECT_EQ(samples[R"(flowrun_tokens_total{flow="chat",step="answer",kind="completion"})"], 2);
}

}  // namespace
}  // namespace flowrun
