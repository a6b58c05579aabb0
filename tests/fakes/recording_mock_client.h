// The offline mock provider, recording every request it answers, so tests
// can check what a step sent on each model call (tool results, schema
// corrections, the tools and schema offered). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "llm/llm_client.h"
#include "llm/mock_client.h"

namespace flowrun::testing {

class RecordingMock : public LlmClient {
 public:
  Status Stream(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel) override {
    Record(request);
    return mock_->Stream(request, on_delta, cancel);
  }
  Task<Status> StreamAsync(const ChatRequest& request, DeltaCallback on_delta, StreamContext context) override {
    Record(request);
    return mock_->StreamAsync(request, std::move(on_delta), context);
  }
  std::string Describe() const override { return mock_->Describe(); }
  std::vector<ChatRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void Record(const ChatRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(request);
  }
  std::unique_ptr<LlmClient> mock_ = MakeMockClient({});
  mutable std::mutex mutex_;
  std::vector<ChatRequest> requests_;
};

}  // namespace flowrun::testing
