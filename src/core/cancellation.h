// Cancellation: tells a running flow (and its upstream transfer) to stop:
// the consumer has gone, or the server is shutting down. Cancel() may be
// called from any thread; IsCancelled() and the probe belong to whichever
// thread drives the run at the moment: the one running the flow, or the
// upstream event loop while that thread waits for a transfer.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

namespace flowrun {

class Cancellation {
 public:
  // The first reason given wins; it becomes the run's error message.
  void Cancel(const std::string& reason = "cancelled") {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_.load(std::memory_order_relaxed)) return;
    reason_ = reason;
    cancelled_.store(true, std::memory_order_release);
  }

  // `still_wanted` runs on every IsCancelled() call, which model clients
  // make at least every 100 ms while they wait; returning false cancels.
  // The server uses it to notice a closed client and to send heartbeats.
  void SetProbe(std::function<bool()> still_wanted) { probe_ = std::move(still_wanted); }

  bool IsCancelled() const {
    if (cancelled_.load(std::memory_order_acquire)) return true;
    if (probe_ && !probe_()) {
      const_cast<Cancellation*>(this)->Cancel("client disconnected");
      return true;
    }
    return false;
  }

  // The flag alone, without running the probe: for hot paths that run
  // between probes anyway (once per token).
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // A socket whose hang-up means the consumer has gone (the client's
  // connection), or -1. An event loop that waits on many transfers watches
  // it instead of calling the probe often; while it does, hangup_watched()
  // is true and the probe need not check the socket itself.
  void SetHangupSocket(int fd) { hangup_socket_ = fd; }
  int hangup_socket() const { return hangup_socket_; }
  void SetHangupWatched(bool watched) { hangup_watched_.store(watched, std::memory_order_release); }
  bool hangup_watched() const { return hangup_watched_.load(std::memory_order_acquire); }

  // Flow control, set by the consumer: it holds output it could not
  // deliver yet (a slow client). A producer that can wait stops reading its
  // source until this clears, rather than piling up more.
  void SetConsumerBacklogged(bool backlogged) { backlogged_.store(backlogged, std::memory_order_relaxed); }
  bool consumer_backlogged() const { return backlogged_.load(std::memory_order_relaxed); }

  std::string Reason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reason_;
  }

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::string reason_;
  std::function<bool()> probe_;
  int hangup_socket_ = -1;
  std::atomic<bool> hangup_watched_{false};
  std::atomic<bool> backlogged_{false};
};

}  // namespace flowrun
