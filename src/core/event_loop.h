// EventLoop: one thread's epoll set, an eventfd wake-up and a timer heap —
// the executor that loop threads (the connection front end today, runs
// later) are built on. Post() may be called from any thread; everything
// else, and every callback, runs on the thread inside Run().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace flowrun {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void()>;
  using FdCallback = std::function<void(uint32_t events)>;  // epoll event bits
  using TimerId = uint64_t;                                 // 0: no timer

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set and the wake-up descriptor.
  Status Init();

  // Runs callbacks until Stop(); then returns. Call once, on the loop thread.
  void Run();
  // Thread-safe: Run() returns after the callback that is running now.
  void Stop();
  // Thread-safe: `fn` runs on the loop thread, in posting order.
  void Post(Callback fn);

  // Loop thread only. `fn` runs once, `delay` from now, unless cancelled.
  TimerId After(std::chrono::milliseconds delay, Callback fn);
  void CancelTimer(TimerId id);

  // Loop thread only. `fn` gets the ready events of `fd` (level-triggered).
  // A descriptor unwatched inside a batch gets no further events from it.
  bool Watch(int fd, uint32_t events, FdCallback fn);
  bool Modify(int fd, uint32_t events);
  void Unwatch(int fd);

  bool OnLoopThread() const;

 private:
  struct Timer {
    Clock::time_point due;
    TimerId id;
    bool operator>(const Timer& other) const { return due > other.due || (due == other.due && id > other.id); }
  };
  struct WatchEntry {
    uint64_t key;
    FdCallback callback;
  };

  int WaitMs() const;
  void RunDueTimers();
  void RunPosted();

  int epoll_ = -1;
  int wake_ = -1;
  bool stopping_ = false;  // loop thread
  std::mutex posted_mutex_;
  std::vector<Callback> posted_;  // guarded by posted_mutex_
  bool stop_requested_ = false;   // guarded by posted_mutex_
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::unordered_map<TimerId, Callback> timer_callbacks_;
  TimerId next_timer_ = 1;
  std::unordered_map<int, uint64_t> watch_keys_;  // fd -> key
  std::unordered_map<uint64_t, WatchEntry> watches_;  // key -> callback
  uint64_t next_watch_key_ = 1;
  const void* loop_thread_ = nullptr;
};

}  // namespace flowrun
