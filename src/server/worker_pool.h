// WorkerPool: the httplib task queue flowrun uses. A fixed number of worker
// threads, each serving one connection at a time, and a count of
// connections waiting for a worker, so idle keep-alive connections can give
// their worker back when others are waiting. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace flowrun {

class WorkerPool : public httplib::TaskQueue {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool() override;

  void enqueue(std::function<void()> task) override;
  // Runs the queued tasks, then joins the workers.
  void shutdown() override;

  // Accepted connections that no worker has picked up yet.
  size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }

 private:
  void Work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> waiting_{0};
  bool shutting_down_ = false;
};

}  // namespace flowrun
