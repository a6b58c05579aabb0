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

}  // namespace
}  // namespace flowrun
