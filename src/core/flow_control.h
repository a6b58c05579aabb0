// FlowControl: backpressure from a run's consumer (the client's socket) to
// its producers (a model transfer). The consumer sets it while it holds
// output the client has not taken; a producer that can wait pauses, and
// asks to be told when the backlog clears. Belongs to the loop thread the
// run is pinned to: no locks.
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace flowrun {

class FlowControl {
 public:
  bool backlogged() const { return backlogged_; }

  // Clearing the backlog runs (once each) the callbacks WhenClear queued.
  void SetBacklogged(bool backlogged) {
    backlogged_ = backlogged;
    if (backlogged_ || waiting_.empty()) return;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& resume : waiting) resume();
  }

  // Runs `resume` once, the next time the backlog clears (at once if it is clear).
  void WhenClear(std::function<void()> resume) {
    if (!backlogged_) {
      resume();
      return;
    }
    waiting_.push_back(std::move(resume));
  }

 private:
  bool backlogged_ = false;
  std::vector<std::function<void()>> waiting_;
};

}  // namespace flowrun
