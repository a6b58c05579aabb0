// The upstream side of the run loops (upstream_loops.h): sizing and
// starting are LoopThreads'; starting also creates every loop's curl driver
// at once (its 16 multi handles and their descriptors), so that the first
// streams do not pay for it and the descriptors a loop holds are taken
// before `serve` admits streams.
#include "llm/upstream_loops.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/loop_threads.h"
#include "llm/curl_driver.h"

namespace flowrun {
namespace {

std::atomic<bool> g_drivers_ready{false};
std::mutex g_drivers_mutex;

// Posts CurlDriver::For to every loop and waits until each has run it.
void PrepareDrivers(LoopThreads& loops) {
  std::lock_guard<std::mutex> once(g_drivers_mutex);
  if (g_drivers_ready.load(std::memory_order_acquire)) return;
  std::mutex mutex;
  std::condition_variable ready_cv;
  size_t left = loops.size();
  for (size_t i = 0; i < loops.size(); ++i) {
    EventLoop& loop = loops.At(i);
    loop.Post([&loop, &mutex, &ready_cv, &left] {
      CurlDriver::For(loop);  // a driver that cannot be made now is tried again by the first transfer
      std::lock_guard<std::mutex> lock(mutex);
      if (--left == 0) ready_cv.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(mutex);
  ready_cv.wait(lock, [&left] { return left == 0; });
  g_drivers_ready.store(true, std::memory_order_release);
}

}  // namespace

void SetUpstreamLoopCount(unsigned count) { LoopThreads::Shared().SetCount(count); }

Status StartUpstreamLoops() {
  LoopThreads& loops = LoopThreads::Shared();
  if (Status started = loops.Start(); !started.ok()) return started;
  // (Not from a loop thread, which cannot wait for the loops to run this.)
  if (!g_drivers_ready.load(std::memory_order_acquire) && EventLoop::Current() == nullptr) PrepareDrivers(loops);
  return Status::Ok();
}

bool UpstreamLoopsRunning() { return LoopThreads::Shared().running(); }

}  // namespace flowrun
