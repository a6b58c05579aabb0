// The run loop threads (loop_threads.h).
#include "core/loop_threads.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/event_loop_thread.h"

namespace flowrun {

struct LoopThreads::State {
  std::atomic<unsigned> requested{0};
  std::mutex start_mutex;
  std::atomic<bool> started{false};
  std::vector<std::unique_ptr<EventLoop>> loops;  // fixed once started
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
};

LoopThreads& LoopThreads::Shared() {
  static LoopThreads loops;
  return loops;
}

// Never destroyed: the loops serve until the process exits, and a loop
// thread must not outlive what it runs on during static destruction.
LoopThreads::State& LoopThreads::state() {
  static State* state = new State();
  return *state;
}

void LoopThreads::SetCount(unsigned count) { state().requested.store(count); }

Status LoopThreads::Start() {
  State& s = state();
  if (s.started.load(std::memory_order_acquire)) return Status::Ok();
  std::lock_guard<std::mutex> lock(s.start_mutex);
  if (s.started.load(std::memory_order_relaxed)) return Status::Ok();
  unsigned count = s.requested.load();
  // One loop per two cores: half of a loop's work is the kernel's TCP path
  // and its clients' and upstreams' share of the machine; a loop that
  // lags batches several tokens per recv and send. Measured on 2 cores
  // (bench/README.md, "Session 9"): one loop carries more streams than two.
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency() / 2);
  count = std::min(count, 16u);
  std::vector<std::unique_ptr<EventLoop>> loops;
  for (unsigned i = 0; i < count; ++i) {
    auto loop = std::make_unique<EventLoop>();
    if (Status status = loop->Init(); !status.ok()) {
      return Status::Unavailable("cannot start run loop " + std::to_string(i + 1) + " of " + std::to_string(count) + ": " +
                           status.message());
    }
    loops.push_back(std::move(loop));
  }
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < count; ++i) {
    try {
      threads.emplace_back([loop = loops[i].get()] {
        MarkEventLoopThread();
        loop->Run();
      });
    } catch (const std::system_error& error) {
      for (unsigned j = 0; j < threads.size(); ++j) loops[j]->Stop();
      for (auto& thread : threads) thread.join();
      return Status::Unavailable("cannot start run loop " + std::to_string(i + 1) + " of " + std::to_string(count) +
                           ": cannot create its thread: " + error.what());
    }
  }
  s.loops = std::move(loops);
  s.threads = std::move(threads);
  s.started.store(true, std::memory_order_release);
  return Status::Ok();
}

bool LoopThreads::running() const { return state().started.load(std::memory_order_acquire); }

size_t LoopThreads::size() const {
  State& s = state();
  return s.started.load(std::memory_order_acquire) ? s.loops.size() : 0;
}

EventLoop& LoopThreads::At(size_t index) { return *state().loops.at(index); }

EventLoop* LoopThreads::Next() {
  State& s = state();
  if (!s.started.load(std::memory_order_acquire) && !Start().ok()) return nullptr;
  return s.loops[s.next.fetch_add(1, std::memory_order_relaxed) % s.loops.size()].get();
}

}  // namespace flowrun
