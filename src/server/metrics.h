// Metrics: counters and histograms for GET /metrics, in the Prometheus
// text exposition format. Thread-safe; recording takes one short lock.
// flowrun_tokens_total keeps at most kMaxTokenSeries flow/step pairs (a
// reload that renames steps starts new ones; old ones stay until restart).
// flowrun_fd_exhausted_total is process-wide (core/descriptors.h): the
// upstream side that counts it knows no Metrics object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace flowrun {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // "name_bucket{labels,le=...} n" lines plus _sum and _count.
  void Write(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Flow/step pairs flowrun_tokens_total keeps; the tokens of a step met past
// it count under its flow's step="(other)" (a name no step id can have).
inline constexpr size_t kMaxTokenSeries = 1000;
inline constexpr char kOtherStep[] = "(other)";

struct StreamRecord {
  std::string flow;
  std::string outcome;  // "done", "error" or "client_gone"
  bool upstream_error = false;  // the failing step talks to a model
  double first_chunk_seconds = -1;
  double duration_seconds = 0;
  uint64_t chunks = 0;
  int retries = 0;
};

class Metrics {
 public:
  void CountRequest(const std::string& flow, int status);  // flow "" for non-flow paths
  void RecordStream(const StreamRecord& record);
  void CountUpstreamRetries(const std::string& flow, int retries);
  // The tokens model step `step` used in one finished run of `flow`.
  void CountTokens(const std::string& flow, const std::string& step, long long prompt_tokens,
                   long long completion_tokens);

  // The whole exposition; `open_streams` is sampled by the caller.
  std::string Render(size_t open_streams) const;

 private:
  struct FlowStats {
    FlowStats();
    std::map<int, uint64_t> requests;  // by status
    std::map<std::string, uint64_t> outcomes;
    Histogram first_chunk;
    Histogram duration;
    uint64_t chunks = 0;
    uint64_t upstream_errors = 0;
    uint64_t upstream_retries = 0;
    struct Tokens {
      uint64_t prompt = 0;
      uint64_t completion = 0;
    };
    std::map<std::string, Tokens> step_tokens;  // by step id
  };

  mutable std::mutex mutex_;
  std::map<std::string, FlowStats> flows_;
  std::map<int, uint64_t> other_requests_;
  size_t token_series_ = 0;  // step_tokens entries over all flows
  bool token_limit_logged_ = false;
};

}  // namespace flowrun
