// Task<T>: a lazily started C++20 coroutine returning T — the unit a run,
// a step or a model call is written in once runs wait without a thread.
// A task runs when it is awaited (`T value = co_await task;`) or started as
// a root with StartTask(task, on_done); it resumes on whichever thread
// completes what it waits for, which for flowrun is always the run's own
// event loop. Awaiting runs the task inline until it first suspends; one
// that finishes without suspending lets its awaiter go on in a plain loop,
// so a block of many synchronous steps never deepens the stack, whether or
// not the compiler turns symmetric transfer into tail calls (it does not at
// -O0 nor under the sanitizers). Frames stay simple on purpose (GCC 12 has coroutine bugs with
// co_await inside expressions holding capturing lambdas): await into a
// local, then use it. An exception escaping a task is rethrown to its
// awaiter (or to StartTask's on_done as an exception_ptr). Not thread-safe:
// a task and its awaiter belong to one thread at a time.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/frame_allocator.h"

namespace flowrun {

template <typename T>
class Task;

namespace task_detail {

struct PromiseBase {
  // Frames come from the per-thread frame cache (core/frame_allocator.h).
  static void* operator new(std::size_t size) { return AllocateFrame(size); }
  static void operator delete(void* frame, std::size_t size) noexcept { FreeFrame(frame, size); }

  std::coroutine_handle<> continuation;  // resumed when this task finishes (none for a root)
  // Who resumes the awaiter (see Task::await_suspend): kStarting while the
  // awaiter runs the task inline, kSuspended once it has left, kDone at the end.
  enum Phase : std::uint8_t { kStarting, kSuspended, kDone };
  std::atomic<std::uint8_t> phase{kStarting};
  std::exception_ptr error;
  std::function<void()> on_root_done;  // roots only: runs after the result is set

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      PromiseBase& promise = self.promise();
      if (promise.continuation) {
        // Still inside the awaiter's await_suspend: it goes on by itself.
        if (promise.phase.exchange(kDone, std::memory_order_acq_rel) == kStarting) return std::noop_coroutine();
        return promise.continuation;
      }
      if (promise.on_root_done) {
        // A root: report, then free the frame (nothing awaits it).
        auto done = std::move(promise.on_root_done);
        done();
        self.destroy();
      }
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
};

template <typename T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& result) {
    value.emplace(std::forward<U>(result));
  }
  T Take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void Take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace task_detail

template <typename T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = task_detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle handle) : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      Reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { Reset(); }

  bool valid() const { return static_cast<bool>(handle_); }

  // Awaiting runs the task until it first suspends or finishes. Finished:
  // the awaiter does not suspend (no recursion, however many in a row).
  // Suspended: the task resumes the awaiter when it finishes, on its thread.
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> awaiter) noexcept {
    auto& promise = handle_.promise();
    promise.continuation = awaiter;
    promise.phase.store(task_detail::PromiseBase::kStarting, std::memory_order_relaxed);
    handle_.resume();
    // The last touch of anything here: once it says kSuspended, the task may
    // resume the awaiter at any moment.
    return promise.phase.exchange(task_detail::PromiseBase::kSuspended, std::memory_order_acq_rel) !=
           task_detail::PromiseBase::kDone;
  }
  T await_resume() { return handle_.promise().Take(); }

  // For StartTask: gives up the frame, which frees itself when done.
  Handle Release() { return std::exchange(handle_, nullptr); }

 private:
  void Reset() {
    if (handle_) handle_.destroy();
    handle_ = nullptr;
  }
  Handle handle_;
};

namespace task_detail {

template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}

inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

}  // namespace task_detail

// Starts `task` as a root on the calling thread: it runs until its first
// suspension and returns; `on_done` gets the result (or the exception)
// when it finishes, wherever that is. The frame frees itself.
template <typename T>
void StartTask(Task<T> task,
               std::type_identity_t<std::function<void(std::optional<T> value, std::exception_ptr error)>> on_done) {
  auto handle = task.Release();
  auto& promise = handle.promise();
  promise.on_root_done = [&promise, on_done = std::move(on_done)] {
    if (promise.error) {
      on_done(std::nullopt, promise.error);
    } else {
      on_done(std::move(promise.value), nullptr);
    }
  };
  handle.resume();
}

inline void StartTask(Task<void> task, std::function<void(std::exception_ptr error)> on_done) {
  auto handle = task.Release();
  auto& promise = handle.promise();
  promise.on_root_done = [&promise, on_done = std::move(on_done)] { on_done(promise.error); };
  handle.resume();
}

}  // namespace flowrun
