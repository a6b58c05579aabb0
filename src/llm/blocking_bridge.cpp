// The blocking bridge (blocking_bridge.h): one Bridge per call, on the
// calling thread's stack; everything but the final hand-over runs on the
// loop thread. One BridgeTicker per loop checks all of that loop's bridges
// on one timer (per-call timers cost a heap entry, a map node and a
// callback each, 50 000 times a second at 5000 streams).
#include "llm/blocking_bridge.h"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/cancel_scope.h"

namespace flowrun {
namespace {

// How often a caller's Cancellation, set from any thread, is looked at.
constexpr auto kTick = std::chrono::milliseconds(100);

class Bridge;

class BridgeTicker final : public EventLoop::Attachment {
 public:
  static BridgeTicker& For(EventLoop& loop);
  explicit BridgeTicker(EventLoop& loop) : loop_(loop) {}
  ~BridgeTicker() override { loop_.CancelTimer(timer_); }

  void Add(Bridge* bridge);
  void Remove(Bridge* bridge);

 private:
  void Tick();

  EventLoop& loop_;
  std::vector<Bridge*> bridges_;
  EventLoop::TimerId timer_ = 0;
};

class Bridge {
 public:
  friend class BridgeTicker;
  Bridge(EventLoop& loop, const Cancellation& cancel, const DeltaCallback& on_delta)
      : loop_(loop), cancel_(cancel), on_delta_(on_delta) {}

  // On the loop thread.
  void Begin(StreamStats* stats, const AsyncStreamCall& call) {
    if (cancel_.cancelled()) scope_.Cancel(cancel_.Reason());
    ticker_ = &BridgeTicker::For(loop_);
    ticker_->Add(this);
    StreamContext context{loop_, scope_, nullptr, stats};
    StartTask<Status>(call(on_delta_, context), [this](std::optional<Status> status, std::exception_ptr error) {
      End(status ? std::move(*status) : Status::Error(StatusCode::kInternal, Describe(error)));
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

  // Every kTick, from the loop's ticker.
  void Tick() {
    if (cancel_.cancelled()) scope_.Cancel(cancel_.Reason());
  }

  size_t ticker_index = 0;  // in BridgeTicker::bridges_

  // The call's last act on the loop: after it the caller may free all of this.
  void End(Status status) {
    ticker_->Remove(this);
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = std::move(status);
    done_ = true;
    done_cv_.notify_one();  // under the lock: the caller frees the bridge as soon as it may go
  }

  EventLoop& loop_;
  const Cancellation& cancel_;
  const DeltaCallback& on_delta_;
  CancelScope scope_;
  BridgeTicker* ticker_ = nullptr;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;  // guarded by mutex_
  Status status_;      // guarded by mutex_
};

const char kTickerKey = 0;

BridgeTicker& BridgeTicker::For(EventLoop& loop) {
  if (auto* found = loop.FindAttachment(&kTickerKey)) return *static_cast<BridgeTicker*>(found);
  auto ticker = std::make_unique<BridgeTicker>(loop);
  BridgeTicker& raw = *ticker;
  loop.Attach(&kTickerKey, std::move(ticker));
  return raw;
}

void BridgeTicker::Add(Bridge* bridge) {
  bridge->ticker_index = bridges_.size();
  bridges_.push_back(bridge);
  if (timer_ == 0) timer_ = loop_.After(kTick, [this] { Tick(); });
}

void BridgeTicker::Remove(Bridge* bridge) {
  Bridge* last = bridges_.back();
  bridges_[bridge->ticker_index] = last;
  last->ticker_index = bridge->ticker_index;
  bridges_.pop_back();
}

void BridgeTicker::Tick() {
  timer_ = 0;
  // A tick may end calls (a cancelled scope ends its call later, at the
  // end of the iteration, never inside Tick), so by index from the end.
  for (size_t i = bridges_.size(); i-- > 0;) {
    if (i < bridges_.size()) bridges_[i]->Tick();
  }
  if (!bridges_.empty()) timer_ = loop_.After(kTick, [this] { Tick(); });
}

}  // namespace

Status RunBlockingOnLoop(EventLoop& loop, const Cancellation& cancel, const DeltaCallback& on_delta,
                         StreamStats* stats, const AsyncStreamCall& call) {
  Bridge bridge(loop, cancel, on_delta);
  loop.Post([&bridge, stats, &call] { bridge.Begin(stats, call); });
  return bridge.Wait();
}

}  // namespace flowrun
