// StreamAttempt: one transfer, normally on the shared upstream loop
// (curl_loop.h) while the calling thread sleeps; driven by the calling
// thread itself on its own multi handle when there is no loop to use (a
// delta callback that streams again runs on the loop thread). Either way
// cancellation and timeouts are checked at least every 100 ms (50 ms when
// driven alone) even while the upstream sends nothing. Memory stays bounded
// whatever the upstream sends: stream bodies go through the SSE parser (which
// caps lines and events) and are never accumulated; other bodies are read
// for their error message only, up to kMaxErrorBodyBytes. A socket that
// cannot be opened for lack of descriptors is this process's fault, reported
// as such and never retried (core/descriptors.h).
#include "llm/stream_attempt.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "core/descriptors.h"
#include "core/event_loop_thread.h"
#include "llm/curl_loop.h"
#include "llm/openai_wire.h"
#include "llm/retry_policy.h"
#include "llm/sse_line_parser.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;
// After [DONE] the body normally ends at once; reading that end lets curl
// keep the connection for the next request, but a lingering server must not
// hold up a finished answer.
constexpr auto kDrainGrace = std::chrono::milliseconds(200);

long MillisSince(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

class StreamAttempt : public LoopTransfer {
 public:
  StreamAttempt(const OpenAiConfig& config, const std::string& display_url, const DeltaCallback& on_delta,
                const Cancellation& cancel)
      : config_(config), display_url_(display_url), on_delta_(on_delta), cancel_(cancel) {}

  AttemptResult Run(CurlHandles& handles, const std::string& url, const std::string& body) {
    CURL* easy = handles.easy();
    easy_ = easy;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    if (!config_.api_key.empty()) {
      headers = curl_slist_append(headers, ("Authorization: Bearer " + config_.api_key).c_str());
    }
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "flowrun");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &StreamAttempt::HeaderThunk);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &StreamAttempt::WriteThunk);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &StreamAttempt::ProgressThunk);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &StreamAttempt::OpenSocketThunk);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);

    start_ = Clock::now();
    const CURLcode result = Drive(handles);
    long http_status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    const std::optional<long> retry_after_ms = RetryAfterMs(easy);
    // The easy handle outlives this frame; it must not keep pointers into it.
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, nullptr);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, nullptr);
    curl_slist_free_all(headers);
    const std::string curl_error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);

    AttemptResult outcome;
    outcome.status = Classify(result, http_status, curl_error, &outcome);
    outcome.http_status = http_status;
    outcome.delivered = deltas_delivered_ > 0;
    if (outcome.fault == StreamFault::kHttpStatus) outcome.retry_after_ms = retry_after_ms;
    return outcome;
  }

 private:
  enum class BodyMode { kUnknown, kStream, kErrorBody, kPlainJson };
  enum class Stop { kNone, kDone, kCancelled, kFailed };

  // Runs the transfer until it ends or we stop it; returns curl's verdict.
  CURLcode Drive(CurlHandles& handles) {
    if (CurlLoopAvailable()) {
      // The loop asks ShouldStop() every tick; no progress callback needed.
      curl_easy_setopt(handles.easy(), CURLOPT_NOPROGRESS, 1L);
      return RunOnCurlLoop(handles.easy(), *this, cancel_);
    }
    return DriveAlone(handles);
  }

  // LoopTransfer, on the loop thread.
  void AfterReads() override { HintFlush(); }
  bool ShouldStop(bool full_check) override {
    if (full_check) {
      CheckClock();
    } else if (stop_ == Stop::kNone && cancel_.cancelled()) {
      stop_ = Stop::kCancelled;
    }
    return ShouldLeave();
  }

  CURLcode DriveAlone(CurlHandles& handles) {
    CURLM* multi = handles.multi();
    if (multi == nullptr) return CURLE_OUT_OF_MEMORY;
    curl_multi_add_handle(multi, handles.easy());
    CURLcode result = CURLE_OK;
    bool ended = false;
    while (true) {
      int running = 0;
      const CURLMcode multi_code = curl_multi_perform(multi, &running);
      // curl hands over each HTTP chunk separately; only after perform has
      // drained what the socket held is "nothing more ready" true.
      HintFlush();
      if (multi_code != CURLM_OK) {
        Fail("cannot reach upstream " + display_url_ + ": " + curl_multi_strerror(multi_code),
             StreamFault::kUnreachable);
        break;
      }
      if (running == 0) {
        ended = true;
        break;
      }
      CheckClock();
      if (ShouldLeave()) break;
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(kPollInterval.count()), nullptr);
    }
    int pending = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &pending)) {
      if (message->msg == CURLMSG_DONE) result = message->data.result;
    }
    // Removing an unfinished transfer closes its connection: what an abort wants.
    curl_multi_remove_handle(multi, handles.easy());
    return ended ? result : CURLE_ABORTED_BY_CALLBACK;
  }

  // Tells the consumer that the deltas so far are all that is ready now.
  void HintFlush() {
    if (deltas_delivered_ == deltas_hinted_) return;
    deltas_hinted_ = deltas_delivered_;
    if (!on_delta_(std::string_view()) && stop_ == Stop::kNone) stop_ = Stop::kCancelled;
  }

  bool ShouldLeave() const {
    if (stop_ == Stop::kDone) return Clock::now() - done_at_ > kDrainGrace;
    return stop_ != Stop::kNone;
  }

  void CheckClock() {
    if (stop_ != Stop::kNone) return;
    if (cancel_.IsCancelled()) {
      stop_ = Stop::kCancelled;
    } else if (config_.first_token_timeout_ms > 0 && deltas_delivered_ == 0 && !finished_ &&
               MillisSince(start_) > config_.first_token_timeout_ms) {
      Fail("no first token from upstream within " + std::to_string(config_.first_token_timeout_ms) + " ms",
           StreamFault::kTimeout);
    } else if (config_.idle_timeout_ms > 0 && got_response_ && MillisSince(last_byte_) > config_.idle_timeout_ms) {
      Fail("upstream sent nothing for " + std::to_string(config_.idle_timeout_ms) + " ms", StreamFault::kTimeout);
    }
  }

  static size_t HeaderThunk(char*, size_t size, size_t count, void* self) {
    // Headers start the idle clock: a server that answers and then says
    // nothing is as stuck as one that stops mid-answer.
    auto* attempt = static_cast<StreamAttempt*>(self);
    attempt->got_response_ = true;
    attempt->last_byte_ = Clock::now();
    return size * count;
  }

  // curl's own socket() call, but it tells us why it failed: a process out
  // of descriptors is not an unreachable upstream, and retrying won't help.
  static curl_socket_t OpenSocketThunk(void* self, curlsocktype, curl_sockaddr* address) {
    const curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd == CURL_SOCKET_BAD && IsDescriptorExhaustion(errno)) static_cast<StreamAttempt*>(self)->out_of_fds_ = true;
    return fd;
  }

  static size_t WriteThunk(char* data, size_t size, size_t count, void* self) {
    return static_cast<StreamAttempt*>(self)->OnBody(std::string_view(data, size * count));
  }

  static int ProgressThunk(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* attempt = static_cast<StreamAttempt*>(self);
    attempt->CheckClock();
    return attempt->stop_ == Stop::kNone || attempt->stop_ == Stop::kDone ? 0 : 1;
  }

  // Returning less than the size given makes curl abort the transfer.
  size_t OnBody(std::string_view bytes) {
    if (mode_ == BodyMode::kUnknown) mode_ = DetectMode();
    // A lagging client: leave these bytes with curl until it catches up.
    if (on_loop() && mode_ == BodyMode::kStream && stop_ == Stop::kNone && cancel_.consumer_backlogged()) {
      return PauseUntilConsumerCatchesUp();
    }
    // Any byte, an SSE comment included, shows the upstream is alive.
    got_response_ = true;
    last_byte_ = Clock::now();
    // Timeouts and the probe are checked every tick; per read, the flag.
    if (stop_ == Stop::kNone && cancel_.cancelled()) stop_ = Stop::kCancelled;
    AfterReadsOnLoop(*this);  // a no-op when not on the loop
    if (stop_ == Stop::kDone) return bytes.size();  // drain what follows [DONE]
    if (stop_ != Stop::kNone) return 0;
    if (mode_ != BodyMode::kStream) {
      // Non-streamed bodies are read for their message only, and only so far.
      const std::size_t room = kMaxErrorBodyBytes - body_.size();
      body_.append(bytes.substr(0, room));
      return bytes.size() <= room ? bytes.size() : 0;
    }
    const SseFeedResult fed =
        parser_.Feed(bytes, [this](const SseEvent& event) { return OnEvent(event); });
    if (fed == SseFeedResult::kTooLarge) {
      Fail("upstream sent an oversized event: " + parser_.error(), StreamFault::kMalformed);
    }
    return fed == SseFeedResult::kOk || stop_ == Stop::kDone ? bytes.size() : 0;
  }

  BodyMode DetectMode() {
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) return BodyMode::kErrorBody;
    const char* content_type = nullptr;
    curl_easy_getinfo(easy_, CURLINFO_CONTENT_TYPE, &content_type);
    // A server that ignored "stream": true answers with one JSON document.
    if (content_type != nullptr && std::string_view(content_type).find("json") != std::string_view::npos) {
      return BodyMode::kPlainJson;
    }
    return BodyMode::kStream;
  }

  bool OnEvent(const SseEvent& event) {
    if (event.event == "error") {
      Fail("upstream error: " + UpstreamErrorMessage(event.data), StreamFault::kUpstreamError);
      return false;
    }
    OpenAiChunk chunk;
    Status parsed = ParseOpenAiChunk(event.data, &chunk);
    if (!parsed.ok()) {
      Fail(parsed.message(), IsUpstreamError(parsed) ? StreamFault::kUpstreamError : StreamFault::kMalformed);
      return false;
    }
    if (chunk.done) {
      stop_ = Stop::kDone;
      done_at_ = Clock::now();
      return false;
    }
    if (!chunk.content.empty()) {
      ++deltas_delivered_;
      if (!on_delta_(chunk.content)) {
        stop_ = Stop::kCancelled;
        return false;
      }
    }
    if (chunk.finished) finished_ = true;
    return true;
  }

  // Failures that a lack of descriptors causes outside our socket callback.
  static bool MayLackDescriptors(CURLcode result) {
    return result == CURLE_COULDNT_RESOLVE_HOST || result == CURLE_COULDNT_RESOLVE_PROXY ||
           result == CURLE_OUT_OF_MEMORY || result == CURLE_FAILED_INIT;
  }

  static bool IsUpstreamError(const Status& status) {
    return status.message().rfind("upstream error: ", 0) == 0;
  }

  Status Classify(CURLcode result, long http_status, const std::string& curl_error, AttemptResult* outcome) {
    if (stop_ != Stop::kNone) return Stopped(outcome);
    // No socket for the upstream, or a failed name lookup (which needs
    // descriptors too) while the process has none to spare: our shortage,
    // not the upstream's.
    if (result != CURLE_OK && http_status == 0 &&
        (out_of_fds_ || (MayLackDescriptors(result) && !HaveDescriptorHeadroom(1)))) {
      outcome->fault = StreamFault::kOutOfDescriptors;
      NoteDescriptorShortage(DescriptorShortage::kUpstream);
      return Status::Error(OutOfDescriptorsMessage() + "; cannot connect to upstream " + display_url_);
    }
    if (http_status != 0 && (http_status < 200 || http_status > 299)) {
      outcome->fault = StreamFault::kHttpStatus;
      outcome->transient = IsRetryableHttpStatus(http_status);
      const std::string message = UpstreamErrorMessage(RedactSecret(body_, config_.api_key));
      return Status::Error("upstream returned HTTP " + std::to_string(http_status) +
                           (message.empty() ? "" : ": " + message));
    }
    if (mode_ == BodyMode::kPlainJson) {
      OpenAiChunk ignored;
      Status parsed = ParseOpenAiChunk(body_, &ignored);
      if (IsUpstreamError(parsed)) {
        outcome->fault = StreamFault::kUpstreamError;
        return parsed;
      }
      outcome->fault = StreamFault::kMalformed;
      return Status::Error("upstream answered without streaming (Content-Type application/json)");
    }
    if (result != CURLE_OK && http_status == 0) {
      outcome->fault = StreamFault::kUnreachable;
      outcome->transient = IsTransientTransportFailure(result);
      return Status::Error("cannot reach upstream " + display_url_ + ": " + curl_error);
    }
    // Some servers close right after the last data line; accept that event.
    parser_.Finish([this](const SseEvent& event) { return OnEvent(event); });
    if (stop_ != Stop::kNone) return Stopped(outcome);
    if (finished_) return Status::Ok();
    outcome->fault = StreamFault::kTruncated;
    std::string message = "upstream stream ended before the answer finished";
    if (result != CURLE_OK) message += " (" + curl_error + ")";
    return Status::Error(message);
  }

  // The outcome when we ended the transfer ourselves.
  Status Stopped(AttemptResult* outcome) const {
    switch (stop_) {
      case Stop::kCancelled:
        outcome->fault = StreamFault::kCancelled;
        return Status::Error("cancelled");
      case Stop::kFailed:
        outcome->fault = failure_fault_;
        return failure_;
      case Stop::kDone:
      case Stop::kNone:
        break;
    }
    return Status::Ok();
  }

  void Fail(std::string message, StreamFault fault) {
    if (stop_ != Stop::kNone) return;
    stop_ = Stop::kFailed;
    failure_ = Status::Error(std::move(message));
    failure_fault_ = fault;
  }

  const OpenAiConfig& config_;
  const std::string& display_url_;
  const DeltaCallback& on_delta_;
  const Cancellation& cancel_;
  CURL* easy_ = nullptr;
  SseLineParser parser_;
  BodyMode mode_ = BodyMode::kUnknown;
  Stop stop_ = Stop::kNone;
  Status failure_;
  StreamFault failure_fault_ = StreamFault::kNone;
  std::string body_;  // non-streamed body, capped at kMaxErrorBodyBytes
  int deltas_delivered_ = 0;
  int deltas_hinted_ = 0;  // deltas_delivered_ at the last flush hint
  bool finished_ = false;      // a finish_reason arrived
  bool got_response_ = false;  // headers (or body) arrived: the idle clock runs
  bool out_of_fds_ = false;    // socket() failed with EMFILE/ENFILE
  Clock::time_point start_;
  Clock::time_point last_byte_;
  Clock::time_point done_at_;
};

}  // namespace

AttemptResult RunStreamAttempt(const OpenAiConfig& config, const std::string& display_url,
                               CurlHandles& handles, const std::string& url, const std::string& body,
                               const DeltaCallback& on_delta, const Cancellation& cancel) {
  StreamAttempt attempt(config, display_url, on_delta, cancel);
  return attempt.Run(handles, url, body);
}

}  // namespace flowrun
