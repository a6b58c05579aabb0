// An elastic thread pool on detached pthreads with small stacks.
#include "server/worker_pool.h"

#include <pthread.h>

#include "core/log.h"

namespace flowrun {

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(options) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < options_.min_threads; ++i) SpawnLocked();
}

WorkerPool::~WorkerPool() { shutdown(); }

size_t WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_;
}

bool WorkerPool::Saturated() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !tasks_.empty() && idle_ == 0 && threads_ >= options_.max_threads;
}

bool WorkerPool::SpawnLocked() {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, options_.stack_bytes);
  pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  const bool created = pthread_create(&thread, &attributes, &WorkerPool::ThreadMain, this) == 0;
  pthread_attr_destroy(&attributes);
  if (created) ++threads_;
  return created;
}

void* WorkerPool::ThreadMain(void* pool) {
  static_cast<WorkerPool*>(pool)->Work();
  return nullptr;
}

void WorkerPool::enqueue(std::function<void()> task) {
  bool spawn_failed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
    waiting_.store(tasks_.size(), std::memory_order_relaxed);
    // More waiting tasks than idle workers: grow, up to the cap.
    if (tasks_.size() > idle_ && threads_ < options_.max_threads) spawn_failed = !SpawnLocked();
  }
  ready_.notify_one();
  if (spawn_failed) LogWarn("cannot start another worker thread; the connection waits for a free one");
}

void WorkerPool::shutdown() {
  std::unique_lock<std::mutex> lock(mutex_);
  shutting_down_ = true;
  ready_.notify_all();
  all_exited_.wait(lock, [this] { return threads_ == 0; });
}

void WorkerPool::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ++idle_;
    const bool woke = ready_.wait_for(lock, options_.idle_exit, [this] { return shutting_down_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty() && (shutting_down_ || (!woke && threads_ > options_.min_threads))) break;
    if (tasks_.empty()) continue;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    waiting_.store(tasks_.size(), std::memory_order_relaxed);
    lock.unlock();
    task();
    task = nullptr;  // release what the task captured before taking the lock
    lock.lock();
  }
  --threads_;
  // Notify while holding the lock: the pool may be destroyed once it is released.
  all_exited_.notify_all();
}

}  // namespace flowrun
