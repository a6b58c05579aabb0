// LoopThreads: the process's run loops, one EventLoop thread each (one per
// core by default, at most 16). A run is pinned to one of them from its start
// to its last byte; model transfers started by that run are driven on the
// same loop (llm/ attaches its curl driver to each loop it is used on).
// Started once (Start is idempotent, all or none); the loops then run until
// the process exits. Thread-safe.
#pragma once

#include <cstddef>

#include "core/event_loop.h"
#include "core/status.h"

namespace flowrun {

class LoopThreads {
 public:
  // The process-wide set.
  static LoopThreads& Shared();

  // How many loops Start() creates (0: one per two cores, at least one). Only before Start().
  void SetCount(unsigned count);
  // Starts every loop now (all or none; idempotent). The error names the
  // loop and the cause, e.g. "cannot start run loop 2 of 2: eventfd: Too
  // many open files". A failed start may be retried.
  Status Start();
  bool running() const;
  size_t size() const;
  EventLoop& At(size_t index);
  // The loop for the next run (round-robin). Starts the loops if needed;
  // null when they cannot start.
  EventLoop* Next();

 private:
  LoopThreads() = default;
  struct State;
  static State& state();
};

}  // namespace flowrun
