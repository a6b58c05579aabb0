// The blocking bridge (blocking_bridge.h): one Bridge per call, on the
// calling thread's stack; everything but the final hand-over runs on the
// loop thread.
#include "llm/blocking_bridge.h"

#include <sys/epoll.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>

#include "core/cancel_scope.h"
#include "core/flow_control.h"

namespace flowrun {
namespace {

// As the upstream loops checked their transfers: the flag every tick, the
// probe (which sends heartbeats and notices a closed client) on every tick
// without a delta and every kFullCheckTicks otherwise.
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr int kFullCheckTicks = 10;

class Bridge {
 public:
  Bridge(EventLoop& loop, const Cancellation& cancel, const DeltaCallback& on_delta)
      : loop_(loop),
        cancel_(cancel),
        // The consumer hands its Cancellation over read-only, but its hang-up
        // socket, noticed here, must cancel it, and it must learn whether the
        // loop watches that socket (its probe then need not): both are
        // thread-safe members (atomics and a mutex).
        writable_cancel_(const_cast<Cancellation&>(cancel)),
        on_delta_(on_delta) {}

  // On the loop thread.
  void Begin(StreamStats* stats, const AsyncStreamCall& call) {
    WatchHangup();
    tick_ = loop_.After(kTick, [this] { Tick(); });
    DeltaCallback deltas = [this](std::string_view text) { return OnDelta(text); };
    StreamContext context{loop_, scope_, &flow_, stats};
    StartTask<Status>(call(std::move(deltas), context), [this](std::optional<Status> status, std::exception_ptr error) {
      End(status ? std::move(*status) : Status::Error(Describe(error)));
    });
  }

  // On the calling thread.
  Status Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [this] { return done_; });
    return std::move(status_);
  }

 private:
  static std::string Describe(const std::exception_ptr& error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception& caught) {
      return std::string("internal error: ") + caught.what();
    } catch (...) {
    }
    return "internal error";
  }

  bool OnDelta(std::string_view text) {
    const bool wanted = on_delta_(text);
    if (!text.empty()) delta_since_tick_ = true;
    flow_.SetBacklogged(cancel_.consumer_backlogged());  // clearing it resumes a paused transfer
    return wanted;
  }

  void Tick() {
    tick_ = 0;
    const bool full = !delta_since_tick_ || ++ticks_since_full_check_ >= kFullCheckTicks;
    if (full) ticks_since_full_check_ = 0;
    delta_since_tick_ = false;
    const bool cancelled = full ? cancel_.IsCancelled() : cancel_.cancelled();
    flow_.SetBacklogged(cancel_.consumer_backlogged());
    if (cancelled) scope_.Cancel(cancel_.Reason());
    tick_ = loop_.After(kTick, [this] { Tick(); });
  }

  void WatchHangup() {
    const int fd = cancel_.hangup_socket();
    if (fd < 0) return;
    if (!loop_.Watch(fd, EPOLLRDHUP, [this](uint32_t) {
          writable_cancel_.Cancel("client disconnected");
          UnwatchHangup();
          scope_.Cancel("client disconnected");
        })) {
      return;
    }
    hangup_fd_ = fd;
    writable_cancel_.SetHangupWatched(true);
  }

  void UnwatchHangup() {
    if (hangup_fd_ < 0) return;
    loop_.Unwatch(hangup_fd_);
    hangup_fd_ = -1;
    writable_cancel_.SetHangupWatched(false);
  }

  // The call's last act on the loop: after it the caller may free all of this.
  void End(Status status) {
    loop_.CancelTimer(tick_);
    tick_ = 0;
    UnwatchHangup();
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = std::move(status);
    done_ = true;
    done_cv_.notify_one();  // under the lock: the caller frees the bridge as soon as it may go
  }

  EventLoop& loop_;
  const Cancellation& cancel_;
  Cancellation& writable_cancel_;
  const DeltaCallback& on_delta_;
  CancelScope scope_;
  FlowControl flow_;
  EventLoop::TimerId tick_ = 0;
  bool delta_since_tick_ = false;
  int ticks_since_full_check_ = 0;
  int hangup_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;  // guarded by mutex_
  Status status_;      // guarded by mutex_
};

}  // namespace

Status RunBlockingOnLoop(EventLoop& loop, const Cancellation& cancel, const DeltaCallback& on_delta,
                         StreamStats* stats, const AsyncStreamCall& call) {
  Bridge bridge(loop, cancel, on_delta);
  loop.Post([&bridge, stats, &call] { bridge.Begin(stats, call); });
  return bridge.Wait();
}

}  // namespace flowrun
