// A test's own EventLoop on a thread of its own, for the curl driver and
// StreamAsync tests: run code on the loop and wait for it, and wait (with a
// deadline) for a condition checked on the loop, so that no test reads
// loop-owned state from another thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/event_loop.h"

namespace flowrun::testing {

class LoopThread {
 public:
  LoopThread() {
    EXPECT_TRUE(loop_.Init().ok());
    thread_ = std::thread([this] { loop_.Run(); });
  }
  ~LoopThread() {
    loop_.Stop();
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  EventLoop& loop() { return loop_; }

  // Runs `fn` on the loop and returns once it has run.
  void Run(const std::function<void()>& fn) {
    std::mutex mutex;
    std::condition_variable ran_cv;
    bool ran = false;
    loop_.Post([&] {
      fn();
      std::lock_guard<std::mutex> lock(mutex);
      ran = true;
      ran_cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mutex);
    ran_cv.wait(lock, [&] { return ran; });
  }

  // True once `condition` (run on the loop) holds; false after `limit`.
  bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (true) {
      bool holds = false;
      Run([&] { holds = condition(); });
      if (holds) return true;
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

 private:
  EventLoop loop_;
  std::thread thread_;
};

}  // namespace flowrun::testing
