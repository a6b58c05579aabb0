// ProtocolClient: streams chat completions from an HTTP model provider
// (the WireProtocol it is given: openai, anthropic or ollama), retrying faults that happen before any text reached the consumer. Once a
// delta has been handed on, a retry could repeat or contradict it, so every
// later fault is final.
//
// StreamAsync is the native path: attempts run on the curl driver of the
// run's loop and the backoff between them is a loop timer. StreamWithStats
// (the blocking path) runs the same coroutine on one of the run loops while
// the caller sleeps (blocking_bridge.h); only a caller that is itself on a
// loop thread (a delta callback that streams again), or one for which the
// loops cannot start, drives its attempts alone on its own thread.
#include "llm/protocol_client.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "core/event_loop_thread.h"
#include "core/log.h"
#include "core/loop_awaitables.h"
#include "core/loop_threads.h"
#include "llm/blocking_bridge.h"
#include "llm/curl_driver.h"
#include "llm/curl_handles.h"
#include "llm/openai_wire.h"  // RedactSecret, UrlForDisplay
#include "llm/retry_policy.h"
#include "llm/stream_attempt.h"
#include "llm/upstream_loops.h"

namespace flowrun {
namespace {

constexpr const char* kCurlInitFailed = "cannot start an upstream transfer: curl initialisation failed";

std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return random;
}

// What follows a failed attempt: another one after `wait_ms`, or `final`.
struct NextStep {
  bool retry = false;
  long wait_ms = 0;
  Status final;
};

class ProtocolClient : public LlmClient {
 public:
  ProtocolClient(std::shared_ptr<const WireProtocol> protocol, OpenAiConfig config)
      : protocol_(std::move(protocol)), config_(std::move(config)) {
    while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
    url_ = protocol_->Url(config_.base_url);
    display_url_ = RedactSecret(UrlForDisplay(config_.base_url), config_.api_key);
  }

  Status Stream(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel) override {
    return StreamWithStats(request, on_delta, cancel, nullptr);
  }

  Status StreamWithStats(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel,
                         StreamStats* stats) override {
    if (cancel.IsCancelled()) {
      if (stats != nullptr) *stats = StreamStats();
      StreamStats ignored;
      return Cancelled(stats != nullptr ? *stats : ignored);
    }
    EventLoop* loop = OnAnyLoopThread() ? nullptr : PickLoop();
    if (loop == nullptr) return StreamAlone(request, on_delta, cancel, stats);
    return RunBlockingOnLoop(*loop, cancel, on_delta, stats, [this, &request](DeltaCallback deltas, StreamContext context) {
      return StreamAsync(request, std::move(deltas), context);
    });
  }

  Task<Status> StreamAsync(const ChatRequest& request, DeltaCallback on_delta, StreamContext context) override {
    StreamStats ignored;
    StreamStats& counts = context.stats != nullptr ? *context.stats : ignored;
    counts = StreamStats();
    if (context.scope.cancelled()) co_return Cancelled(counts);
    CurlDriver* driver = CurlDriver::For(context.loop);
    if (driver == nullptr) co_return Failed(counts, kCurlInitFailed);
    const std::string body = protocol_->BuildBody(request);
    const int max_attempts = std::max(1, config_.max_attempts);
    for (int attempt = 1;; ++attempt) {
      counts.attempts = attempt;
      counts.retries = attempt - 1;
      CURL* easy = driver->TakeEasy();
      if (easy == nullptr) co_return Failed(counts, kCurlInitFailed);
      std::unique_ptr<StreamDecoder> decoder = protocol_->NewDecoder(request);
      StreamAttempt exchange(config_, *protocol_, *decoder, display_url_, on_delta, &context.on_reasoning);
      AttemptResult result = co_await exchange.OnLoop(*driver, easy, url_, body, context.scope, context.flow);
      driver->GiveBack(easy);
      counts.http_status = static_cast<int>(result.http_status);
      counts.fault = result.fault;
      NoteAnswer(result, counts);
      if (result.status.ok()) co_return result.status;
      NextStep next = AfterFailure(result, attempt, max_attempts);
      if (!next.retry) co_return next.final;
      // A timer, not a thread: cancelling the scope ends the wait at once.
      const bool waited = co_await Sleep(context.loop, std::chrono::milliseconds(next.wait_ms), &context.scope);
      if (!waited) co_return Cancelled(counts);
    }
  }

  std::string Describe() const override { return protocol_->name() + " at " + display_url_; }

 private:
  static bool OnAnyLoopThread() { return EventLoop::Current() != nullptr || OnEventLoopThread(); }

  // A run loop for a blocking caller, starting the loops if need be; null
  // (after a warning) when they cannot start: the stream then runs alone.
  static EventLoop* PickLoop() {
    if (!UpstreamLoopsRunning()) {
      const Status started = StartUpstreamLoops();
      if (!started.ok()) {
        LogWarn(started.message() + "; this stream runs on its own thread");
        return nullptr;
      }
    }
    return LoopThreads::Shared().Next();
  }

  // The attempts driven by the calling thread, which sleeps between them.
  Status StreamAlone(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel,
                     StreamStats* stats) {
    StreamStats ignored;
    StreamStats& counts = stats != nullptr ? *stats : ignored;
    counts = StreamStats();
    const std::string body = protocol_->BuildBody(request);
    CurlLease lease;
    if (!lease.ok()) return Failed(counts, kCurlInitFailed);
    const int max_attempts = std::max(1, config_.max_attempts);
    for (int attempt = 1;; ++attempt) {
      counts.attempts = attempt;
      counts.retries = attempt - 1;
      std::unique_ptr<StreamDecoder> decoder = protocol_->NewDecoder(request);
      StreamAttempt exchange(config_, *protocol_, *decoder, display_url_, on_delta, nullptr);
      AttemptResult result = exchange.RunAlone(lease.handles(), url_, body, cancel);
      counts.http_status = static_cast<int>(result.http_status);
      counts.fault = result.fault;
      NoteAnswer(result, counts);
      if (result.status.ok()) return result.status;
      NextStep next = AfterFailure(result, attempt, max_attempts);
      if (!next.retry) return next.final;
      if (!SleepUnlessCancelled(std::chrono::milliseconds(next.wait_ms), cancel)) return Cancelled(counts);
    }
  }

  NextStep AfterFailure(const AttemptResult& result, int attempt, int max_attempts) const {
    NextStep next;
    // Every message leaves through here; upstreams sometimes echo the key.
    std::string message = RedactSecret(result.status.message(), config_.api_key);
    const bool may_retry = result.transient && !result.delivered;
    if (!may_retry || attempt >= max_attempts) {
      if (may_retry && attempt > 1) message += " (gave up after " + std::to_string(attempt) + " attempts)";
      next.final = Status::Error(result.status.code(), std::move(message));
      return next;
    }
    next.retry = true;
    next.wait_ms = RetryDelayMs(attempt, config_.retry_initial_ms, config_.retry_max_ms, result.retry_after_ms,
                                ThreadRandom());
    LogWarn(message + "; retrying in " + std::to_string(next.wait_ms) + " ms (attempt " +
            std::to_string(attempt + 1) + " of " + std::to_string(max_attempts) + ")");
    return next;
  }

  // How the attempt's answer ended, and what it cost.
  static void NoteAnswer(AttemptResult& result, StreamStats& counts) {
    counts.finish_reason = result.finish_reason;
    counts.prompt_tokens = result.prompt_tokens;
    counts.completion_tokens = result.completion_tokens;
    counts.tool_calls = std::move(result.tool_calls);
    counts.refusal = std::move(result.refusal);
  }

  static Status Cancelled(StreamStats& counts) {
    counts.fault = StreamFault::kCancelled;
    return Status::Cancelled();
  }

  static Status Failed(StreamStats& counts, const char* message) {
    counts.fault = StreamFault::kOther;
    return Status::Unavailable(message);
  }

  std::shared_ptr<const WireProtocol> protocol_;
  OpenAiConfig config_;
  std::string url_;
  std::string display_url_;
};

}  // namespace

bool WireProtocol::IsRetryableStatus(long status) const { return IsRetryableHttpStatus(status); }

std::unique_ptr<LlmClient> MakeProtocolClient(std::shared_ptr<const WireProtocol> protocol, OpenAiConfig config) {
  return std::make_unique<ProtocolClient>(std::move(protocol), std::move(config));
}

}  // namespace flowrun
