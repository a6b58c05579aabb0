// OpenAiClient: streams chat completions from an OpenAI-compatible server,
// retrying faults that happen before any text reached the consumer. Once a
// delta has been handed on, a retry could repeat or contradict it, so every
// later fault is final.
#include "llm/openai_client.h"

#include <algorithm>
#include <random>
#include <utility>

#include "core/log.h"
#include "llm/curl_handles.h"
#include "llm/openai_wire.h"
#include "llm/retry_policy.h"
#include "llm/stream_attempt.h"

namespace flowrun {
namespace {

std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return random;
}

class OpenAiClient : public LlmClient {
 public:
  explicit OpenAiClient(OpenAiConfig config) : config_(std::move(config)) {
    while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
    url_ = config_.base_url + "/chat/completions";
    display_url_ = RedactSecret(UrlForDisplay(config_.base_url), config_.api_key);
  }

  Status Stream(const ChatRequest& request, const DeltaCallback& on_delta,
                const Cancellation& cancel) override {
    return StreamWithStats(request, on_delta, cancel, nullptr);
  }

  Status StreamWithStats(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel,
                         StreamStats* stats) override {
    StreamStats ignored;
    StreamStats& counts = stats != nullptr ? *stats : ignored;
    counts = StreamStats();
    if (cancel.IsCancelled()) return Cancelled(counts);
    const std::string body = BuildChatRequestBody(request);
    CurlLease lease;
    if (!lease.ok()) {
      counts.fault = StreamFault::kOther;
      return Status::Error("cannot start an upstream transfer: curl initialisation failed");
    }
    const int max_attempts = std::max(1, config_.max_attempts);
    for (int attempt = 1;; ++attempt) {
      counts.attempts = attempt;
      counts.retries = attempt - 1;
      AttemptResult result = RunStreamAttempt(config_, display_url_, lease.handles(), url_, body, on_delta, cancel);
      counts.http_status = static_cast<int>(result.http_status);
      counts.fault = result.fault;
      if (result.status.ok()) return result.status;
      // Every message leaves through here; upstreams sometimes echo the key.
      std::string message = RedactSecret(result.status.message(), config_.api_key);
      const bool may_retry = result.transient && !result.delivered;
      if (!may_retry) return Status::Error(std::move(message));
      if (attempt >= max_attempts) {
        if (attempt > 1) message += " (gave up after " + std::to_string(attempt) + " attempts)";
        return Status::Error(std::move(message));
      }
      const long wait_ms = RetryDelayMs(attempt, config_.retry_initial_ms, config_.retry_max_ms,
                                        result.retry_after_ms, ThreadRandom());
      LogWarn(message + "; retrying in " + std::to_string(wait_ms) + " ms (attempt " + std::to_string(attempt + 1) +
              " of " + std::to_string(max_attempts) + ")");
      if (!SleepUnlessCancelled(std::chrono::milliseconds(wait_ms), cancel)) return Cancelled(counts);
    }
  }

  std::string Describe() const override { return "openai at " + display_url_; }

 private:
  static Status Cancelled(StreamStats& counts) {
    counts.fault = StreamFault::kCancelled;
    return Status::Error("cancelled");
  }

  OpenAiConfig config_;
  std::string url_;
  std::string display_url_;
};

}  // namespace

std::unique_ptr<LlmClient> MakeOpenAiClient(OpenAiConfig config) {
  return std::make_unique<OpenAiClient>(std::move(config));
}

}  // namespace flowrun
