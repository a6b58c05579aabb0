// WorkerPool: the httplib task queue flowrun uses. One task is one client
// connection, and a streaming connection holds its worker for the whole
// stream, so the pool grows on demand (up to a cap) with small stacks and
// shrinks again when workers sit idle. It reports how many connections
// wait for a worker, so idle keep-alive connections can give theirs back.
// Thread-safe. Internal to src/server (it shows httplib types).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include <httplib.h>

namespace flowrun {

struct WorkerPoolOptions {
  size_t min_threads = 4;     // kept even when idle
  size_t max_threads = 1024;  // beyond this, connections queue
  size_t stack_bytes = 256 * 1024;
  std::chrono::milliseconds idle_exit{10000};  // an idle worker above min exits after this
};

class WorkerPool : public httplib::TaskQueue {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool() override;

  void enqueue(std::function<void()> task) override;
  // Runs the queued tasks, then waits for every worker to exit.
  void shutdown() override;

  // Accepted connections that no worker has picked up yet.
  size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }
  size_t threads() const;
  // Every worker is busy, the pool cannot grow, and connections wait.
  bool Saturated() const;

 private:
  static void* ThreadMain(void* pool);
  void Work();
  bool SpawnLocked();  // requires mutex_

  const WorkerPoolOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable all_exited_;
  std::deque<std::function<void()>> tasks_;
  size_t threads_ = 0;
  size_t idle_ = 0;
  std::atomic<size_t> waiting_{0};
  bool shutting_down_ = false;
};

}  // namespace flowrun
