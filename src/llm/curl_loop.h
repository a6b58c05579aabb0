// CurlLoop: threads (one per two cores) that drive the upstream transfers of the
// process with curl's multi-socket API on epoll. A thread that streams hands its
// easy handle over and sleeps until the transfer ends; meanwhile the loop
// reads the upstream, runs the transfer's callbacks (so deltas reach the
// client from the loop thread) and watches the client's socket for a
// hang-up. Tokens then cost no thread wake-up and no poll() of their own:
// one epoll_wait serves every ready stream. Upstream connections stay alive
// in the loop's shared connection cache between requests.
// Internal to src/llm and its tests (curl types); other modules use upstream_loops.h.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "core/cancellation.h"
#include "llm/upstream_loops.h"

namespace flowrun {

struct LoopJob;
class CurlLoop;
class LoopTransfer;
void AfterReadsOnLoop(LoopTransfer& transfer);

// What the loop needs from a transfer besides curl's own callbacks. Called
// on the loop thread only.
class LoopTransfer {
 public:
  virtual ~LoopTransfer() = default;
  // Everything that was ready has been handed to the write callback.
  virtual void AfterReads() = 0;
  // True ends the transfer now (cancelled, timed out, or done and draining
  // too long). With full_check (timeouts, the cancellation probe) every
  // 100 ms while the transfer is quiet and every second while it reads;
  // otherwise only what is cheap to know (a flag, the transfer's state).
  virtual bool ShouldStop(bool full_check) = 0;

 protected:
  // True while the loop runs this transfer (so callbacks run on the loop).
  bool on_loop() const { return loop_job_ != nullptr; }

  // Flow control, from a write callback on the loop while the consumer is
  // backlogged (Cancellation::consumer_backlogged): returns what the
  // callback must return to pause the transfer; curl keeps those bytes and
  // TCP holds back the rest. The loop resumes it once the consumer caught up.
  size_t PauseUntilConsumerCatchesUp() {
    paused_ = true;
    return CURL_WRITEFUNC_PAUSE;
  }

 private:
  friend class CurlLoop;
  friend void AfterReadsOnLoop(LoopTransfer& transfer);
  LoopJob* loop_job_ = nullptr;  // set while the loop runs this transfer
  bool paused_ = false;
};

// False on the loop thread itself (a callback that streams again must drive
// its transfer alone) or when the loops could not start (they are started
// on first use unless StartUpstreamLoops did so; a failed start is retried).
bool CurlLoopAvailable();

// Runs `easy` on the shared loop and blocks until it ends. While it runs,
// `cancel`'s hang-up socket (if any) is watched: its hang-up cancels with
// "client disconnected". Returns curl's result, or CURLE_ABORTED_BY_CALLBACK
// when ShouldStop() ended the transfer. The easy handle must not be touched
// by the caller until this returns. Only when CurlLoopAvailable().
CURLcode RunOnCurlLoop(CURL* easy, LoopTransfer& transfer, const Cancellation& cancel);

// On the loop thread, from a write callback: call transfer.AfterReads() once
// the current batch of socket events has been processed.
void AfterReadsOnLoop(LoopTransfer& transfer);

// One loop thread; curl_loops.cpp keeps the set and spreads transfers.
class CurlLoopThread {
 public:
  virtual ~CurlLoopThread() = default;
  // RunOnCurlLoop on this loop.
  virtual CURLcode Run(CURL* easy, LoopTransfer& transfer, Cancellation& cancel) = 0;
};

// Starts one loop thread; null, with the cause in `*error` (e.g.
// "eventfd: Too many open files"), when it cannot start.
std::unique_ptr<CurlLoopThread> StartCurlLoopThread(std::string* error);

}  // namespace flowrun
