// A small JSON API on 127.0.0.1 (an ephemeral port) for tool and http-step
// tests: every request goes to the handler given, which returns the status
// and body; requests are recorded, and how many were in flight at once is
// kept. Stops when destroyed. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_openai_upstream.h"

namespace flowrun::testing {

class FakeJsonApi {
 public:
  struct Answer {
    int status = 200;
    std::string body;  // sent as application/json
  };
  using Handler = std::function<Answer(const RecordedRequest& request)>;

  explicit FakeJsonApi(Handler handler);
  ~FakeJsonApi();
  FakeJsonApi(const FakeJsonApi&) = delete;
  FakeJsonApi& operator=(const FakeJsonApi&) = delete;

  int port() const { return port_; }
  std::vector<RecordedRequest> requests() const;
  int max_in_flight() const { return max_in_flight_.load(); }
  // For a handler: waits until `count` requests have been in flight at once, or
  // `timeout` passes; true when they were.
  bool WaitForInFlight(int count, std::chrono::milliseconds timeout);

 private:
  Handler handler_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace flowrun::testing
