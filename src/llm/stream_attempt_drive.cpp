// How a StreamAttempt (stream_attempt.h) is driven: on a loop's CurlDriver,
// suspending the awaiting coroutine until the driver reports the transfer
// done, or alone on the calling thread, which blocks in curl_multi_poll and
// checks cancellation and timeouts every 50 ms even while the upstream
// sends nothing.
#include <chrono>
#include <utility>

#include "llm/stream_attempt.h"

namespace flowrun {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(50);

}  // namespace

void StreamAttempt::Awaiter::await_suspend(std::coroutine_handle<> waiter) {
  StreamAttempt& attempt = attempt_;
  attempt.waiter_ = waiter;
  attempt.driver_ = &driver_;
  attempt.scope_ = &scope_;
  attempt.flow_ = flow_;
  attempt.Prepare(easy_, url_, body_);
  // The driver asks ShouldStop() every tick; no progress callback needed.
  curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 1L);
  driver_.Start(easy_, attempt);
  // A cancelled scope aborts the transfer now (Done follows at the end of
  // the loop's iteration, never inside this callback).
  attempt.on_cancel_ = scope_.OnCancel([&attempt] {
    attempt.on_cancel_ = 0;
    if (attempt.stop_ == Stop::kNone) attempt.stop_ = Stop::kCancelled;  // a finished answer stays finished
    attempt.driver_->Abort(attempt);
  });
}

void StreamAttempt::Done(CURLcode result) {
  if (scope_ != nullptr) scope_->RemoveCallback(on_cancel_);
  on_cancel_ = 0;
  alive_.reset();  // a WhenClear callback still queued does nothing now
  result_ = Conclude(result);
  driver_ = nullptr;
  // Last: the awaiting coroutine may destroy this attempt.
  std::exchange(waiter_, nullptr).resume();
}

// Called from the write callback while the consumer is backlogged: curl
// keeps these bytes and TCP holds back the rest until the backlog clears.
size_t StreamAttempt::PauseUntilClear() {
  if (!resume_asked_) {
    resume_asked_ = true;
    if (!alive_) alive_ = std::make_shared<StreamAttempt*>(this);
    std::weak_ptr<StreamAttempt*> alive = alive_;
    flow_->WhenClear([alive] {
      auto attempt = alive.lock();
      if (!attempt) return;
      (*attempt)->resume_asked_ = false;
      if ((*attempt)->driver_ != nullptr) (*attempt)->driver_->Resume(**attempt);
    });
  }
  return CURL_WRITEFUNC_PAUSE;
}

AttemptResult StreamAttempt::RunAlone(CurlHandles& handles, const std::string& url, const std::string& body,
                                      const Cancellation& cancel) {
  cancel_ = &cancel;
  Prepare(handles.easy(), url, body);
  curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, &StreamAttempt::ProgressThunk);
  curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, this);
  const CURLcode result = DriveAlone(handles);
  AttemptResult outcome = Conclude(result);
  cancel_ = nullptr;
  return outcome;
}

// Runs the transfer until it ends or we stop it; returns curl's verdict.
CURLcode StreamAttempt::DriveAlone(CurlHandles& handles) {
  CURLM* multi = handles.multi();
  if (multi == nullptr) return CURLE_OUT_OF_MEMORY;
  curl_multi_add_handle(multi, easy_);
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
  curl_multi_remove_handle(multi, easy_);
  return ended ? result : CURLE_ABORTED_BY_CALLBACK;
}

}  // namespace flowrun
