// EventLoop: one thread's epoll set, an eventfd wake-up and a timer heap —
// the executor that loop threads (the connection front end, the run loops)
// are built on. Post() and Stop() may be called from any thread; everything
// else, and every callback, runs on the thread inside Run() (or, before Run
// and after it returns, on the thread that owns the loop).
//
// One iteration of Run(): wait for ready descriptors, run their callbacks,
// run the callbacks of ready descriptors in the priority set (so they never
// wait behind a long ready list), run what was posted, run due timers, then
// the after-batch hooks (where work collected during the iteration is done
// once: flushes, completions).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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
  using HookId = uint64_t;                                  // 0: no hook

  // A per-loop object another module keeps with the loop (llm/ keeps its
  // curl driver so), destroyed first when the loop is, while the loop's
  // descriptors are still open.
  class Attachment {
   public:
    virtual ~Attachment() = default;
  };

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
  // A descriptor unwatched inside a batch gets no further events from it,
  // and its callback may unwatch it. Watch is false when `fd` is watched
  // already (or epoll refuses it); a watched descriptor that was closed
  // without Unwatch and whose number came back may be watched again.
  bool Watch(int fd, uint32_t events, FdCallback fn);
  bool Modify(int fd, uint32_t events);
  void Unwatch(int fd);

  // Loop thread only. Moves a watched descriptor into the priority set (or
  // back): its events are served after every batch of ordinary ones, so
  // it never waits behind thousands of busy descriptors. False when `fd` is
  // not watched or the set cannot be created (it stays an ordinary watch).
  bool SetPriority(int fd, bool priority);

  // Loop thread only. `fn` runs at the end of every iteration of Run(),
  // after the descriptors, posted callbacks and timers of that iteration.
  // It may add and remove hooks (a hook added runs from the next iteration).
  HookId AddAfterBatch(Callback fn);
  void RemoveAfterBatch(HookId id);

  // Loop thread only. The attachment kept under `key` (the address of
  // something the attaching module owns), or null; Attach replaces it.
  Attachment* FindAttachment(const void* key) const;
  void Attach(const void* key, std::unique_ptr<Attachment> attachment);

  // Loop thread only. The share of wall time the loop spent running
  // callbacks rather than waiting in epoll_wait, over its last window of
  // about kBusyWindow: 0 idle .. 1 never waiting. Time the thread waited for
  // a CPU while working counts as busy: either way it is behind. Consumers
  // use it to trade latency for fewer system calls only under load.
  double Busy() const { return busy_; }

  bool OnLoopThread() const;
  // The loop whose Run() is running on the calling thread, or null.
  static EventLoop* Current();

 private:
  struct Timer {
    Clock::time_point due;
    TimerId id;
    bool operator>(const Timer& other) const { return due > other.due || (due == other.due && id > other.id); }
  };
  struct WatchEntry {
    int fd = -1;
    uint32_t events = 0;
    bool priority = false;
    bool live = true;  // false once unwatched: a ready event still in this batch is dropped
    FdCallback callback;
  };

  int WaitMs() const;
  void Dispatch(void* tag, uint32_t events);
  void RunDueTimers();
  void RunPosted();
  void RunAfterBatch();
  int SetOf(const WatchEntry& entry) const { return entry.priority ? priority_epoll_ : epoll_; }
  Clock::time_point NoteIteration(Clock::time_point waited_from, Clock::time_point woke);

  int epoll_ = -1;
  int wake_ = -1;
  int priority_epoll_ = -1;  // created on first SetPriority; itself watched in epoll_
  size_t priority_watches_ = 0;
  bool stopping_ = false;  // loop thread
  double busy_ = 0;        // loop thread: Busy()
  Clock::duration window_busy_{0};
  Clock::duration window_total_{0};
  std::mutex posted_mutex_;
  std::vector<Callback> posted_;  // guarded by posted_mutex_
  bool stop_requested_ = false;   // guarded by posted_mutex_
  std::atomic<bool> has_posted_{false};  // posted_ or stop_requested_ may be set: take the lock
  std::vector<Callback> running_posted_;  // loop thread: the batch being run
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::unordered_map<TimerId, Callback> timer_callbacks_;
  TimerId next_timer_ = 1;
  std::unordered_map<int, std::unique_ptr<WatchEntry>> watches_;  // by descriptor
  std::vector<std::unique_ptr<WatchEntry>> unwatched_;            // freed at the end of the iteration
  struct Hook {
    HookId id;
    Callback fn;
    bool removed = false;  // erased after the hooks of the iteration ran
  };
  std::vector<std::unique_ptr<Hook>> after_batch_;  // stable while one runs
  HookId next_hook_ = 1;
  bool hooks_removed_ = false;
  std::unordered_map<const void*, std::unique_ptr<Attachment>> attachments_;
};

}  // namespace flowrun
