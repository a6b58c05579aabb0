// Cancellation: tells a running flow (and its upstream transfer) that the
// consumer has gone. Thread-safe: Cancel() may be called from any thread,
// IsCancelled() polled from the worker running the flow.
#pragma once

#include <atomic>
#include <functional>

namespace flowrun {

class Cancellation {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

  // `still_wanted` is polled by IsCancelled(); returning false cancels.
  // Used by the server to notice a closed client while no byte is written.
  void SetProbe(std::function<bool()> still_wanted) { probe_ = std::move(still_wanted); }

  bool IsCancelled() const {
    if (cancelled_.load(std::memory_order_relaxed)) return true;
    if (probe_ && !probe_()) {
      cancelled_.store(true, std::memory_order_relaxed);
      return true;
    }
    return false;
  }

 private:
  mutable std::atomic<bool> cancelled_{false};
  std::function<bool()> probe_;
};

}  // namespace flowrun
