// Awaitables that suspend a Task on its EventLoop instead of a thread:
// Sleep (a timer that a CancelScope cuts short) and Yield (resume after
// what is already queued on the loop). Loop thread only.
#pragma once

#include <chrono>
#include <coroutine>

#include "core/cancel_scope.h"
#include "core/event_loop.h"

namespace flowrun {

// `co_await Sleep(loop, 200ms, scope)`: true after the full delay, false
// when `scope` was cancelled first (then it resumes at once, via the loop).
class Sleep {
 public:
  Sleep(EventLoop& loop, std::chrono::milliseconds delay, CancelScope* scope = nullptr)
      : loop_(loop), delay_(delay), scope_(scope) {}

  bool await_ready() const { return scope_ != nullptr && scope_->cancelled(); }
  void await_suspend(std::coroutine_handle<> handle) {
    handle_ = handle;
    timer_ = loop_.After(delay_, [this] {
      timer_ = 0;
      if (scope_ != nullptr) scope_->RemoveCallback(on_cancel_);
      on_cancel_ = 0;
      completed_ = true;
      handle_.resume();
    });
    if (scope_ != nullptr) {
      on_cancel_ = scope_->OnCancel([this] {
        on_cancel_ = 0;
        loop_.CancelTimer(timer_);
        timer_ = 0;
        loop_.Post([handle = handle_] { handle.resume(); });
      });
    }
  }
  bool await_resume() const { return completed_; }

 private:
  EventLoop& loop_;
  std::chrono::milliseconds delay_;
  CancelScope* scope_;
  std::coroutine_handle<> handle_;
  EventLoop::TimerId timer_ = 0;
  CancelScope::CallbackId on_cancel_ = 0;
  bool completed_ = false;
};

// `co_await Yield(loop)`: lets everything already posted run first.
class Yield {
 public:
  explicit Yield(EventLoop& loop) : loop_(loop) {}
  bool await_ready() const { return false; }
  void await_suspend(std::coroutine_handle<> handle) { loop_.Post([handle] { handle.resume(); }); }
  void await_resume() const {}

 private:
  EventLoop& loop_;
};

}  // namespace flowrun
