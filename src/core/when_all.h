// WhenAll: runs several Task<T>s concurrently on the calling thread's loop
// and resumes the awaiter once every one has finished — how a run's
// parallel branches and map items wait together without a thread each.
//
//   std::vector<T> results = co_await WhenAll<T>(count, concurrency, make);
//
// `make(i)` creates the i-th task (0-based) when it is started, so a map
// over 10 000 items holds no more than `concurrency` frames at a time (0:
// all at once). Tasks start in index order; when one finishes, the next
// starts in its place (in a loop, not by recursion, so tasks that finish at
// once never deepen the stack; no loop round-trip). Results come back in index order. An exception escaping a
// task is rethrown from the co_await once all have finished (the first, by
// index). Not thread-safe: the awaiter and every task belong to one thread.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "core/task.h"

namespace flowrun {

template <typename T>
class WhenAll;

namespace when_all_detail {

// What the tasks of one WhenAll share; lives in the awaitable.
struct JoinState {
  size_t count = 0;
  size_t concurrency = 0;
  size_t started = 0;
  size_t finished = 0;
  bool starting = false;  // a loop is starting tasks (the awaiter's, or a finished task's): it goes on itself
  std::coroutine_handle<> waiter;
  // Creates task `started` (and counts it), returning its suspended wrapper.
  std::coroutine_handle<> (*start)(void* owner) = nullptr;
  void* owner = nullptr;

  std::coroutine_handle<> StartNext() { return start(owner); }
  bool CanStart() const { return started < count && started - finished < concurrency; }
};

// A wrapper coroutine around one task: stores its result, then hands over
// to the next task, to the waiter (when it was the last), or to nobody.
struct ChildPromise;
struct Child {
  using promise_type = ChildPromise;
  std::coroutine_handle<ChildPromise> handle;
};

struct ChildPromise {
  JoinState* join = nullptr;
  Child get_return_object() noexcept { return {std::coroutine_handle<ChildPromise>::from_promise(*this)}; }
  std::suspend_always initial_suspend() noexcept { return {}; }
  void return_void() noexcept {}
  void unhandled_exception() noexcept {}  // the body catches everything itself

  struct Final {
    bool await_ready() noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<ChildPromise> self) noexcept {
      JoinState* join = self.promise().join;
      self.destroy();  // suspended, so its frame may go; nothing of it is touched below
      ++join->finished;
      if (join->starting) return std::noop_coroutine();  // a starting loop below goes on
      // Start what may start now, each to its first suspension, in a loop:
      // one that finishes at once comes back here instead of recursing.
      join->starting = true;
      while (join->CanStart()) join->StartNext().resume();
      join->starting = false;
      if (join->finished == join->count) return join->waiter;
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  Final final_suspend() noexcept { return {}; }
};

template <typename T>
Child RunChild(Task<T> task, std::optional<T>* result, std::exception_ptr* error) {
  try {
    *result = co_await task;
  } catch (...) {
    *error = std::current_exception();
  }
}

}  // namespace when_all_detail

template <typename T>
class [[nodiscard]] WhenAll {
 public:
  using Factory = std::function<Task<T>(size_t index)>;

  WhenAll(size_t count, size_t concurrency, Factory make)
      : make_(std::move(make)), results_(count), errors_(count) {
    join_.count = count;
    join_.concurrency = concurrency == 0 ? count : concurrency;
    join_.owner = this;
    join_.start = [](void* owner) { return static_cast<WhenAll*>(owner)->Start(); };
  }
  WhenAll(const WhenAll&) = delete;
  WhenAll& operator=(const WhenAll&) = delete;

  bool await_ready() const noexcept { return join_.count == 0; }

  std::coroutine_handle<> await_suspend(std::coroutine_handle<> waiter) {
    join_.waiter = waiter;
    join_.starting = true;
    // Each runs to its first suspension; one that finishes at once hands
    // its place to the next by itself.
    while (join_.CanStart()) Start().resume();
    join_.starting = false;
    if (join_.finished == join_.count) return waiter;  // everything finished synchronously
    return std::noop_coroutine();
  }

  std::vector<T> await_resume() {
    for (auto& error : errors_) {
      if (error) std::rethrow_exception(error);
    }
    std::vector<T> values;
    values.reserve(results_.size());
    for (auto& result : results_) values.push_back(std::move(*result));
    return values;
  }

 private:
  std::coroutine_handle<> Start() {
    const size_t index = join_.started++;
    auto child = when_all_detail::RunChild<T>(make_(index), &results_[index], &errors_[index]);
    child.handle.promise().join = &join_;
    return child.handle;
  }

  Factory make_;
  std::vector<std::optional<T>> results_;
  std::vector<std::exception_ptr> errors_;
  when_all_detail::JoinState join_;
};

}  // namespace flowrun
