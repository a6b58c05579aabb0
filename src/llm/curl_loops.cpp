// The process's upstream event loops (curl_loop.cpp): how many, started
// when, and which one takes the next transfer. `serve` starts them before
// it listens (StartUpstreamLoops); otherwise the first transfer does, and a
// start that fails is tried again by the next one. Thread-safe.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/event_loop_thread.h"
#include "core/log.h"
#include "llm/curl_loop.h"
#include "llm/upstream_loops.h"

namespace flowrun {
namespace {

// Several loops when there are cores to spare: a loop is one thread, and
// many streams' tokens can be more work than one core does. Transfers are
// spread round-robin. `serve` starts them before it listens
// (StartUpstreamLoops); otherwise the first transfer does, and a start that
// fails is tried again by the next one (the transfer meanwhile runs alone).
std::atomic<unsigned> g_requested_loops{0};

class CurlLoops {
 public:
  // Starts every loop, or none; idempotent.
  Status Start() {
    if (started_.load(std::memory_order_acquire)) return Status::Ok();
    std::lock_guard<std::mutex> lock(start_mutex_);
    if (started_.load(std::memory_order_relaxed)) return Status::Ok();
    unsigned count = g_requested_loops.load();
    // Default: one loop per two cores. A loop's sends also do the kernel's
    // work of delivering the bytes, so the other cores are left to that,
    // the workers and the rest of the machine (bench/README.md: on 2 cores,
    // one loop carries 5000 streams at 0.94x direct, two at 0.68x).
    if (count == 0) count = std::max(1u, std::thread::hardware_concurrency() / 2);
    count = std::min(count, 16u);
    std::vector<std::unique_ptr<CurlLoopThread>> loops;
    for (unsigned i = 0; i < count; ++i) {
      std::string error;
      auto loop = StartCurlLoopThread(&error);
      if (loop == nullptr) {
        return Status::Error("cannot start upstream event loop " + std::to_string(i + 1) + " of " +
                             std::to_string(count) + ": " + error);
      }
      loops.push_back(std::move(loop));
    }
    loops_ = std::move(loops);
    started_.store(true, std::memory_order_release);
    return Status::Ok();
  }

  // Starts the loops when none runs yet; false when they cannot start.
  bool Available() {
    if (started_.load(std::memory_order_acquire)) return true;
    const Status started = Start();
    if (!started.ok()) LogWarn(started.message() + "; this stream runs on its own thread");
    return started.ok();
  }

  bool started() const { return started_.load(std::memory_order_acquire); }
  CurlLoopThread& Next() { return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]; }

 private:
  std::mutex start_mutex_;
  std::atomic<bool> started_{false};
  std::vector<std::unique_ptr<CurlLoopThread>> loops_;  // fixed once started_
  std::atomic<size_t> next_{0};
};

CurlLoops& SharedLoops() {
  static CurlLoops loops;
  return loops;
}

}  // namespace

void SetUpstreamLoopCount(unsigned count) { g_requested_loops.store(count); }

Status StartUpstreamLoops() { return SharedLoops().Start(); }

bool UpstreamLoopsRunning() { return SharedLoops().started(); }

bool CurlLoopAvailable() { return !OnEventLoopThread() && SharedLoops().Available(); }

CURLcode RunOnCurlLoop(CURL* easy, LoopTransfer& transfer, const Cancellation& cancel) {
  // Cancel() is safe from any thread; the loop calls it when the client's
  // socket hangs up, as IsCancelled() does when the probe says so.
  return SharedLoops().Next().Run(easy, transfer, const_cast<Cancellation&>(cancel));
}

}  // namespace flowrun
