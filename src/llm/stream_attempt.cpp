// StreamAttempt's exchange itself (stream_attempt.h): the request options,
// the body (SSE or NDJSON parsed as it arrives, never accumulated, and read
// by the protocol's decoder; other bodies read
// for their error message only, up to kMaxErrorBodyBytes), timeouts and the
// verdict. How it is driven, on a loop or alone, is in
// stream_attempt_drive.cpp. A socket that cannot be opened for lack of
// descriptors is this process's fault, reported as such and never retried
// (core/descriptors.h).
#include "llm/stream_attempt.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "core/descriptors.h"
#include "llm/openai_wire.h"  // RedactSecret
#include "llm/retry_policy.h"

namespace flowrun {
namespace {

constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;
// After [DONE] the body normally ends at once; reading that end lets curl
// keep the connection for the next request, but a lingering server must not
// hold up a finished answer.
constexpr auto kDrainGrace = std::chrono::milliseconds(200);

long MillisSince(std::chrono::steady_clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
}

// Failures that a lack of descriptors causes outside our socket callback.
bool MayLackDescriptors(CURLcode result) {
  return result == CURLE_COULDNT_RESOLVE_HOST || result == CURLE_COULDNT_RESOLVE_PROXY ||
         result == CURLE_OUT_OF_MEMORY || result == CURLE_FAILED_INIT;
}

}  // namespace

StreamAttempt::StreamAttempt(const OpenAiConfig& config, const WireProtocol& protocol, StreamDecoder& decoder,
                             const std::string& display_url, const DeltaCallback& on_delta,
                             const ReasoningCallback* on_reasoning)
    : config_(config),
      protocol_(protocol),
      decoder_(decoder),
      on_reasoning_(on_reasoning),
      display_url_(display_url),
      on_delta_(on_delta) {}

StreamAttempt::~StreamAttempt() {
  if (headers_ != nullptr) curl_slist_free_all(headers_);
}

// libcurl 7.88 gives every easy handle a receive buffer of CURLOPT_BUFFERSIZE
// (16 KiB by default), and an open stream holds a handle: up to 125 MiB at
// 8000 streams. An SSE event is a few hundred bytes and the line parser
// joins a line across reads, so 4 KiB only costs more reads in a burst. Set
// on every attempt, on both paths (the loop's driver and a lone transfer):
// curl_easy_reset puts it back to the default.
constexpr long kReceiveBufferBytes = 4 * 1024;

void StreamAttempt::Prepare(CURL* easy, const std::string& url, const std::string& body) {
  easy_ = easy;
  headers_ = curl_slist_append(headers_, "Content-Type: application/json");
  headers_ = curl_slist_append(headers_, protocol_.framing() == WireProtocol::Framing::kSse
                                              ? "Accept: text/event-stream"
                                              : "Accept: application/x-ndjson");
  headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
  for (const std::string& header : protocol_.Headers(config_.api_key)) {
    headers_ = curl_slist_append(headers_, header.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "flowrun");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &StreamAttempt::HeaderThunk);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &StreamAttempt::WriteThunk);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &StreamAttempt::OpenSocketThunk);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  start_ = Clock::now();
}

AttemptResult StreamAttempt::Conclude(CURLcode result) {
  long http_status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &http_status);
  const std::optional<long> retry_after_ms = RetryAfterMs(easy_);
  // The easy handle outlives the attempt; it must not keep pointers into it.
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy_, CURLOPT_OPENSOCKETFUNCTION, nullptr);
  curl_easy_setopt(easy_, CURLOPT_OPENSOCKETDATA, nullptr);
  curl_slist_free_all(headers_);
  headers_ = nullptr;
  const std::string curl_error = error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(result);

  AttemptResult outcome;
  outcome.status = Classify(result, http_status, curl_error, &outcome);
  outcome.http_status = http_status;
  outcome.delivered = deltas_delivered_ > 0;
  DecodedAnswer answer = decoder_.Answer();
  outcome.finish_reason = std::move(answer.finish_reason);
  outcome.prompt_tokens = answer.prompt_tokens;
  outcome.completion_tokens = answer.completion_tokens;
  outcome.tool_calls = std::move(answer.tool_calls);
  outcome.refusal = std::move(answer.refusal);
  if (outcome.fault == StreamFault::kHttpStatus) outcome.retry_after_ms = retry_after_ms;
  return outcome;
}

bool StreamAttempt::CancelledNow() const {
  if (scope_ != nullptr) return scope_->cancelled();
  return cancel_ != nullptr && cancel_->cancelled();
}

bool StreamAttempt::ShouldStop(bool full_check) {
  if (full_check) {
    CheckClock();
  } else if (stop_ == Stop::kNone && CancelledNow()) {
    stop_ = Stop::kCancelled;
  }
  return ShouldLeave();
}

// Tells the consumer that the deltas so far are all that is ready now.
void StreamAttempt::HintFlush() {
  if (deltas_delivered_ == deltas_hinted_) return;
  deltas_hinted_ = deltas_delivered_;
  if (!on_delta_(std::string_view()) && stop_ == Stop::kNone) stop_ = Stop::kCancelled;
}

bool StreamAttempt::ShouldLeave() const {
  if (stop_ == Stop::kDone) return Clock::now() - done_at_ > kDrainGrace;
  return stop_ != Stop::kNone;
}

void StreamAttempt::CheckClock() {
  if (stop_ != Stop::kNone) return;
  if (CancelledNow()) {
    stop_ = Stop::kCancelled;
  } else if (config_.first_token_timeout_ms > 0 && !progress_ &&
             MillisSince(start_) > config_.first_token_timeout_ms) {
    Fail("no first token from upstream within " + std::to_string(config_.first_token_timeout_ms) + " ms",
         StreamFault::kTimeout);
  } else if (config_.idle_timeout_ms > 0 && got_response_ && MillisSince(last_byte_) > config_.idle_timeout_ms) {
    Fail("upstream sent nothing for " + std::to_string(config_.idle_timeout_ms) + " ms", StreamFault::kTimeout);
  }
}

size_t StreamAttempt::HeaderThunk(char*, size_t size, size_t count, void* self) {
  // Headers start the idle clock: a server that answers and then says
  // nothing is as stuck as one that stops mid-answer.
  auto* attempt = static_cast<StreamAttempt*>(self);
  attempt->got_response_ = true;
  attempt->last_byte_ = Clock::now();
  return size * count;
}

// curl's own socket() call, but it tells us why it failed: a process out
// of descriptors is not an unreachable upstream, and retrying won't help.
curl_socket_t StreamAttempt::OpenSocketThunk(void* self, curlsocktype, curl_sockaddr* address) {
  const curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd == CURL_SOCKET_BAD && IsDescriptorExhaustion(errno)) static_cast<StreamAttempt*>(self)->out_of_fds_ = true;
  return fd;
}

size_t StreamAttempt::WriteThunk(char* data, size_t size, size_t count, void* self) {
  return static_cast<StreamAttempt*>(self)->OnBody(std::string_view(data, size * count));
}

int StreamAttempt::ProgressThunk(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* attempt = static_cast<StreamAttempt*>(self);
  attempt->CheckClock();
  return attempt->stop_ == Stop::kNone || attempt->stop_ == Stop::kDone ? 0 : 1;
}

// Returning less than the size given makes curl abort the transfer.
size_t StreamAttempt::OnBody(std::string_view bytes) {
  if (mode_ == BodyMode::kUnknown) mode_ = DetectMode();
  // A lagging consumer: leave these bytes with curl until it catches up.
  if (flow_ != nullptr && mode_ == BodyMode::kStream && stop_ == Stop::kNone && flow_->backlogged()) {
    return PauseUntilClear();
  }
  // Any byte, an SSE comment included, shows the upstream is alive.
  got_response_ = true;
  last_byte_ = Clock::now();
  // Timeouts are checked every tick; per read, the cancel flag.
  if (stop_ == Stop::kNone && CancelledNow()) stop_ = Stop::kCancelled;
  if (driver_ != nullptr) driver_->NoteRead(*this);  // a flush hint at the end of the batch
  if (stop_ == Stop::kDone) return bytes.size();  // drain what follows the end marker
  if (stop_ != Stop::kNone) return 0;
  if (mode_ != BodyMode::kStream) {
    // Non-streamed bodies are read for their message only, and only so far.
    const std::size_t room = kMaxErrorBodyBytes - body_.size();
    body_.append(bytes.substr(0, room));
    return bytes.size() <= room ? bytes.size() : 0;
  }
  SseFeedResult fed;
  if (protocol_.framing() == WireProtocol::Framing::kSse) {
    fed = parser_.Feed(bytes, [this](const SseEvent& event) { return OnMessage(event.event, event.data); });
    if (fed == SseFeedResult::kTooLarge) {
      Fail("upstream sent an oversized event: " + parser_.error(), StreamFault::kMalformed);
    }
  } else {
    fed = lines_.Feed(bytes, [this](std::string_view line) { return OnMessage({}, line); });
    if (fed == SseFeedResult::kTooLarge) {
      Fail("upstream sent an oversized line: " + lines_.error(), StreamFault::kMalformed);
    }
  }
  return fed == SseFeedResult::kOk || stop_ == Stop::kDone ? bytes.size() : 0;
}

StreamAttempt::BodyMode StreamAttempt::DetectMode() {
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return BodyMode::kErrorBody;
  const char* content_type = nullptr;
  curl_easy_getinfo(easy_, CURLINFO_CONTENT_TYPE, &content_type);
  // A server that ignored "stream": true answers with one JSON document.
  if (content_type != nullptr && protocol_.IsUnstreamed(content_type)) {
    return BodyMode::kPlainJson;
  }
  return BodyMode::kStream;
}

bool StreamAttempt::OnMessage(std::string_view event, std::string_view data) {
  DecodedMessage message;
  Status decoded = decoder_.Decode(event, data, &message);
  if (!decoded.ok()) {
    if (stop_ == Stop::kNone) {
      stop_ = Stop::kFailed;
      failure_ = std::move(decoded);
      failure_fault_ = message.fault;
      failure_transient_ = message.retryable;
    }
    return false;
  }
  if (!message.reasoning.empty() || !message.text.empty() || message.progress) progress_ = true;
  if (!message.reasoning.empty() && on_reasoning_ != nullptr && *on_reasoning_) {
    ++deltas_delivered_;
    (*on_reasoning_)(message.reasoning);
  }
  if (!message.text.empty()) {
    ++deltas_delivered_;
    if (!on_delta_(message.text)) {
      stop_ = Stop::kCancelled;
      return false;
    }
  }
  if (message.end) {
    stop_ = Stop::kDone;
    done_at_ = Clock::now();
    return false;
  }
  return true;
}

// Some servers close right after the last message without its terminator:
// read that message too.
void StreamAttempt::FinishFraming() {
  if (protocol_.framing() == WireProtocol::Framing::kSse) {
    parser_.Finish([this](const SseEvent& event) { return OnMessage(event.event, event.data); });
  } else {
    lines_.Finish([this](std::string_view line) { return OnMessage({}, line); });
  }
}

Status StreamAttempt::Classify(CURLcode result, long http_status, const std::string& curl_error,
                               AttemptResult* outcome) {
  if (stop_ != Stop::kNone) return Stopped(outcome);
  // No socket for the upstream, or a failed name lookup (which needs
  // descriptors too) while the process has none to spare: our shortage,
  // not the upstream's.
  if (result != CURLE_OK && http_status == 0 &&
      (out_of_fds_ || (MayLackDescriptors(result) && !HaveDescriptorHeadroom(1)))) {
    outcome->fault = StreamFault::kOutOfDescriptors;
    NoteDescriptorShortage(DescriptorShortage::kUpstream);
    return Status::ResourceExhausted(OutOfDescriptorsMessage() + "; cannot connect to upstream " + display_url_);
  }
  if (http_status != 0 && (http_status < 200 || http_status > 299)) {
    outcome->fault = StreamFault::kHttpStatus;
    outcome->transient = protocol_.IsRetryableStatus(http_status);
    const std::string message = protocol_.ErrorMessage(RedactSecret(body_, config_.api_key));
    return Status::UpstreamError("upstream returned HTTP " + std::to_string(http_status) +
                                 (message.empty() ? "" : ": " + message));
  }
  if (mode_ == BodyMode::kPlainJson) {
    if (std::optional<std::string> error = protocol_.ErrorInUnstreamedBody(body_)) {
      outcome->fault = StreamFault::kUpstreamError;
      return Status::UpstreamError("upstream error: " + *error);
    }
    outcome->fault = StreamFault::kMalformed;
    return Status::Malformed("upstream answered without streaming (Content-Type application/json)");
  }
  if (result != CURLE_OK && http_status == 0) {
    outcome->fault = StreamFault::kUnreachable;
    outcome->transient = IsTransientTransportFailure(result);
    return Status::Unavailable("cannot reach upstream " + display_url_ + ": " + curl_error);
  }
  FinishFraming();
  if (stop_ != Stop::kNone) return Stopped(outcome);
  if (decoder_.Answer().finished) return Status::Ok();
  outcome->fault = StreamFault::kTruncated;
  std::string message = "upstream stream ended before the answer finished";
  if (result != CURLE_OK) message += " (" + curl_error + ")";
  return Status::UpstreamError(message);
}

// The Status code of a failure the attempt itself noticed.
static StatusCode CodeFor(StreamFault fault) {
  switch (fault) {
    case StreamFault::kTimeout:
      return StatusCode::kDeadlineExceeded;
    case StreamFault::kUpstreamError:
      return StatusCode::kUpstreamError;
    case StreamFault::kMalformed:
      return StatusCode::kMalformed;
    case StreamFault::kCancelled:
      return StatusCode::kCancelled;
    default:
      return StatusCode::kUnknown;
  }
}

// The outcome when we ended the transfer ourselves.
Status StreamAttempt::Stopped(AttemptResult* outcome) const {
  switch (stop_) {
    case Stop::kCancelled:
      outcome->fault = StreamFault::kCancelled;
      return Status::Cancelled();
    case Stop::kFailed:
      outcome->fault = failure_fault_;
      outcome->transient = failure_transient_;
      return failure_;
    case Stop::kDone:
    case Stop::kNone:
      break;
  }
  return Status::Ok();
}

void StreamAttempt::Fail(std::string message, StreamFault fault) {
  if (stop_ != Stop::kNone) return;
  stop_ = Stop::kFailed;
  failure_ = Status::Error(CodeFor(fault), std::move(message));
  failure_fault_ = fault;
}

}  // namespace flowrun
