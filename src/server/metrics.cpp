// Prometheus text format rendering of flowrun's metrics.
#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

#include "core/descriptors.h"
#include "core/log.h"

namespace flowrun {
namespace {

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

// Label values escape backslash, double quote and newline.
std::string Label(const std::string& name, const std::string& value) {
  std::string out = name + "=\"";
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void Header(const std::string& name, const std::string& type, const std::string& help, std::string& out) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

const std::vector<double> kFirstChunkBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const std::vector<double> kDurationBounds = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::Write(const std::string& name, const std::string& labels, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? Number(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + "," + Label("le", le) + "} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum{" + labels + "} " + Number(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

Metrics::FlowStats::FlowStats() : first_chunk(kFirstChunkBounds), duration(kDurationBounds) {}

void Metrics::CountRequest(const std::string& flow, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (flow.empty()) {
    ++other_requests_[status];
  } else {
    ++flows_[flow].requests[status];
  }
}

void Metrics::RecordStream(const StreamRecord& record) {
  std::lock_guard<std::mutex> lock(mutex_);
  FlowStats& stats = flows_[record.flow];
  ++stats.outcomes[record.outcome];
  if (record.first_chunk_seconds >= 0) stats.first_chunk.Observe(record.first_chunk_seconds);
  stats.duration.Observe(record.duration_seconds);
  stats.chunks += record.chunks;
  stats.upstream_errors += record.upstream_error ? 1 : 0;
}

void Metrics::CountUpstreamRetries(const std::string& flow, int retries) {
  if (retries <= 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  flows_[flow].upstream_retries += static_cast<uint64_t>(retries);
}

void Metrics::CountTokens(const std::string& flow, const std::string& step, long long prompt_tokens,
                          long long completion_tokens) {
  bool log_limit = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& steps = flows_[flow].step_tokens;
    auto found = steps.find(step);
    if (found == steps.end()) {
      const bool full = token_series_ >= kMaxTokenSeries;
      if (full && !token_limit_logged_) log_limit = token_limit_logged_ = true;
      const std::string name = full ? std::string(kOtherStep) : step;
      found = steps.find(name);
      if (found == steps.end()) {
        found = steps.emplace(name, FlowStats::Tokens{}).first;
        ++token_series_;
      }
    }
    found->second.prompt += static_cast<uint64_t>(std::max(prompt_tokens, 0LL));
    found->second.completion += static_cast<uint64_t>(std::max(completion_tokens, 0LL));
  }
  if (log_limit) {
    LogWarn("metrics: flowrun_tokens_total reached its limit of " + std::to_string(kMaxTokenSeries) +
            " flow/step series; the tokens of steps not yet counted go to step=\"" + kOtherStep + "\"");
  }
}

std::string Metrics::Render(size_t open_streams) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  Header("flowrun_requests_total", "counter", "Requests to flow endpoints by flow and HTTP status.", out);
  for (const auto& [flow, stats] : flows_) {
    for (const auto& [status, count] : stats.requests) {
      out += "flowrun_requests_total{" + Label("flow", flow) + "," + Label("status", std::to_string(status)) + "} " +
             std::to_string(count) + "\n";
    }
  }
  Header("flowrun_other_requests_total", "counter", "Requests to other paths by HTTP status.", out);
  for (const auto& [status, count] : other_requests_) {
    out += "flowrun_other_requests_total{" + Label("status", std::to_string(status)) + "} " + std::to_string(count) + "\n";
  }
  Header("flowrun_fd_exhausted_total", "counter",
         "Streams refused with 503 (where=admission) or failed (where=upstream) because the process was out of file "
         "descriptors.",
         out);
  out += "flowrun_fd_exhausted_total{where=\"admission\"} " +
         std::to_string(DescriptorShortages(DescriptorShortage::kAdmission)) + "\n";
  out += "flowrun_fd_exhausted_total{where=\"upstream\"} " +
         std::to_string(DescriptorShortages(DescriptorShortage::kUpstream)) + "\n";
  Header("flowrun_open_streams", "gauge", "Streams currently open.", out);
  out += "flowrun_open_streams " + std::to_string(open_streams) + "\n";
  Header("flowrun_streams_total", "counter", "Finished streams by flow and outcome (done, error, client_gone).", out);
  for (const auto& [flow, stats] : flows_) {
    for (const auto& [outcome, count] : stats.outcomes) {
      out += "flowrun_streams_total{" + Label("flow", flow) + "," + Label("outcome", outcome) + "} " +
             std::to_string(count) + "\n";
    }
  }
  Header("flowrun_time_to_first_chunk_seconds", "histogram", "Time from request to the first chunk sent.", out);
  for (const auto& [flow, stats] : flows_) stats.first_chunk.Write("flowrun_time_to_first_chunk_seconds", Label("flow", flow), out);
  Header("flowrun_stream_duration_seconds", "histogram", "Time from request to the end of the stream.", out);
  for (const auto& [flow, stats] : flows_) stats.duration.Write("flowrun_stream_duration_seconds", Label("flow", flow), out);
  Header("flowrun_chunks_sent_total", "counter", "Chunk events sent to clients.", out);
  for (const auto& [flow, stats] : flows_) {
    out += "flowrun_chunks_sent_total{" + Label("flow", flow) + "} " + std::to_string(stats.chunks) + "\n";
  }
  Header("flowrun_upstream_errors_total", "counter", "Streams that ended with a model provider error.", out);
  for (const auto& [flow, stats] : flows_) {
    out += "flowrun_upstream_errors_total{" + Label("flow", flow) + "} " + std::to_string(stats.upstream_errors) + "\n";
  }
  Header("flowrun_upstream_retries_total", "counter", "Retried upstream requests (before any token was sent).", out);
  for (const auto& [flow, stats] : flows_) {
    out += "flowrun_upstream_retries_total{" + Label("flow", flow) + "} " + std::to_string(stats.upstream_retries) + "\n";
  }
  Header("flowrun_tokens_total", "counter",
         "Tokens model steps used, by flow, step id and kind (prompt, completion), as their providers reported them.",
         out);
  for (const auto& [flow, stats] : flows_) {
    for (const auto& [step, tokens] : stats.step_tokens) {
      const std::string labels = Label("flow", flow) + "," + Label("step", step) + ",";
      out += "flowrun_tokens_total{" + labels + Label("kind", "prompt") + "} " + std::to_string(tokens.prompt) + "\n";
      out += "flowrun_tokens_total{" + labels + Label("kind", "completion") + "} " + std::to_string(tokens.completion) +
             "\n";
    }
  }
  return out;
}

}  // namespace flowrun
