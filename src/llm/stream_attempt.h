// StreamAttempt: one HTTP exchange with a model upstream (send the request,
// split the streamed body into SSE events or NDJSON lines, let the
// protocol's decoder read them, hand text and reasoning deltas to the
// consumer) and how it ended, in enough detail for the retry loop in
// protocol_client.cpp to
// decide whether another attempt is safe and useful. It runs either on a
// loop's CurlDriver (`co_await attempt.OnLoop(...)`: cancelled through a
// CancelScope, paused while a FlowControl is backlogged) or alone on the
// calling thread (RunAlone, on that thread's own multi handle: for callers
// on a loop thread, or when the loops cannot start). Internal to llm/.
// Thread-safety: one thread at a time (the loop's, or the caller's).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <coroutine>
#include <memory>
#include <optional>
#include <string>

#include "core/cancel_scope.h"
#include "core/cancellation.h"
#include "core/flow_control.h"
#include "core/status.h"
#include "llm/curl_driver.h"
#include "llm/curl_handles.h"
#include "llm/llm_client.h"
#include "llm/openai_client.h"
#include "llm/ndjson_line_parser.h"
#include "llm/sse_line_parser.h"
#include "llm/wire_protocol.h"

namespace flowrun {

struct AttemptResult {
  Status status;  // may still contain the key: the caller redacts
  StreamFault fault = StreamFault::kNone;
  long http_status = 0;                 // 0 when no response arrived
  bool delivered = false;               // on_delta was called at least once
  bool transient = false;               // the fault is worth retrying
  std::optional<long> retry_after_ms;   // from a Retry-After header
  std::string finish_reason;            // the last string finish_reason, empty when none
  long long prompt_tokens = 0;          // from the last "usage", 0 when none arrived
  long long completion_tokens = 0;
  std::vector<ToolCall> tool_calls;     // assembled, in index order
  std::string refusal;
};

class StreamAttempt final : public LoopTransfer {
 public:
  // All must outlive the attempt; `on_reasoning` may be null or empty.
  StreamAttempt(const OpenAiConfig& config, const WireProtocol& protocol, StreamDecoder& decoder,
                const std::string& display_url, const DeltaCallback& on_delta, const ReasoningCallback* on_reasoning);
  ~StreamAttempt() override;
  StreamAttempt(const StreamAttempt&) = delete;
  StreamAttempt& operator=(const StreamAttempt&) = delete;

  // Blocks the calling thread until the exchange ends; `cancel` is checked
  // at least every 50 ms.
  AttemptResult RunAlone(CurlHandles& handles, const std::string& url, const std::string& body,
                         const Cancellation& cancel);

  // `AttemptResult result = co_await attempt.OnLoop(...)`: runs `easy` on
  // `driver` (its loop's thread) and resumes there when the exchange ended.
  // Cancelling `scope` aborts the transfer at once; while `flow` (may be
  // null) is backlogged the transfer is paused, and resumed when it clears.
  // `url`, `body`, `scope` and `flow` must outlive the await.
  class Awaiter {
   public:
    bool await_ready() const { return false; }
    void await_suspend(std::coroutine_handle<> waiter);
    AttemptResult await_resume() { return std::move(attempt_.result_); }

   private:
    friend class StreamAttempt;
    Awaiter(StreamAttempt& attempt, CurlDriver& driver, CURL* easy, const std::string& url, const std::string& body,
            CancelScope& scope, FlowControl* flow)
        : attempt_(attempt), driver_(driver), easy_(easy), url_(url), body_(body), scope_(scope), flow_(flow) {}
    StreamAttempt& attempt_;
    CurlDriver& driver_;
    CURL* easy_;
    const std::string& url_;
    const std::string& body_;
    CancelScope& scope_;
    FlowControl* flow_;
  };
  Awaiter OnLoop(CurlDriver& driver, CURL* easy, const std::string& url, const std::string& body, CancelScope& scope,
                 FlowControl* flow) {
    return Awaiter(*this, driver, easy, url, body, scope, flow);
  }

 private:
  enum class BodyMode { kUnknown, kStream, kErrorBody, kPlainJson };
  enum class Stop { kNone, kDone, kCancelled, kFailed };
  using Clock = std::chrono::steady_clock;

  // LoopTransfer, on the driver's loop.
  void AfterReads() override { HintFlush(); }
  bool ShouldStop(bool full_check) override;
  void Done(CURLcode result) override;

  void Prepare(CURL* easy, const std::string& url, const std::string& body);
  AttemptResult Conclude(CURLcode result);
  CURLcode DriveAlone(CurlHandles& handles);
  size_t PauseUntilClear();
  bool CancelledNow() const;
  void HintFlush();
  bool ShouldLeave() const;
  void CheckClock();
  static size_t HeaderThunk(char*, size_t size, size_t count, void* self);
  static curl_socket_t OpenSocketThunk(void* self, curlsocktype, curl_sockaddr* address);
  static size_t WriteThunk(char* data, size_t size, size_t count, void* self);
  static int ProgressThunk(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
  size_t OnBody(std::string_view bytes);
  BodyMode DetectMode();
  bool OnMessage(std::string_view event, std::string_view data);
  void FinishFraming();
  Status Classify(CURLcode result, long http_status, const std::string& curl_error, AttemptResult* outcome);
  Status Stopped(AttemptResult* outcome) const;
  void Fail(std::string message, StreamFault fault);

  const OpenAiConfig& config_;
  const WireProtocol& protocol_;
  StreamDecoder& decoder_;
  const ReasoningCallback* on_reasoning_;
  const std::string& display_url_;
  const DeltaCallback& on_delta_;
  // How it learns to stop: a Cancellation when alone, a scope on a loop.
  const Cancellation* cancel_ = nullptr;
  CancelScope* scope_ = nullptr;
  CancelScope::CallbackId on_cancel_ = 0;
  FlowControl* flow_ = nullptr;
  CurlDriver* driver_ = nullptr;  // set while on a loop
  std::coroutine_handle<> waiter_;
  // Handed to FlowControl::WhenClear; gone once the attempt is over.
  std::shared_ptr<StreamAttempt*> alive_;
  bool resume_asked_ = false;  // a WhenClear callback is queued
  AttemptResult result_;

  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
  SseLineParser parser_;
  NdjsonLineParser lines_;
  BodyMode mode_ = BodyMode::kUnknown;
  Stop stop_ = Stop::kNone;
  Status failure_;
  StreamFault failure_fault_ = StreamFault::kNone;
  bool failure_transient_ = false;
  std::string body_;  // non-streamed body, capped at kMaxErrorBodyBytes
  int deltas_delivered_ = 0;   // text and reasoning deltas handed on
  bool progress_ = false;      // the answer began (text, reasoning, a tool call, its end): no first-token timeout
  int deltas_hinted_ = 0;      // deltas_delivered_ at the last flush hint
  bool got_response_ = false;  // headers (or body) arrived: the idle clock runs
  bool out_of_fds_ = false;    // socket() failed with EMFILE/ENFILE
  Clock::time_point start_;
  Clock::time_point last_byte_;
  Clock::time_point done_at_;
};

}  // namespace flowrun
