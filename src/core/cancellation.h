// Cancellation: a thread-safe token that tells a blocking call to stop
// (Ctrl-C in `flowrun run`, a test, a custom step's own thread). Cancel()
// may be called from any thread, and so may the getters. Runs on a loop use
// CancelScope (core/cancel_scope.h) instead; the runner bridges a caller's
// Cancellation onto the run's scope. It does no I/O and runs no callbacks.
#pragma once

#include <atomic>
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

  bool IsCancelled() const { return cancelled(); }

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  std::string Reason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reason_;
  }

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::string reason_;
};

}  // namespace flowrun
