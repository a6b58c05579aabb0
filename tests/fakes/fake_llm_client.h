// A scripted LlmClient for tests: streams the given deltas, then returns the
// given status; records every request it received. Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "steps/step_registry.h"

namespace flowrun::testing {

class FakeLlmClient : public LlmClient {
 public:
  std::vector<std::string> deltas = {"Hel", "lo", "!"};
  Status final_status = Status::Ok();
  std::atomic<int> offered{0};  // deltas handed to on_delta, over all calls
  bool flush_each = true;       // false: one flush hint after all deltas (a burst)

  Status Stream(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
    }
    for (const auto& delta : deltas) {
      if (cancel.IsCancelled()) return Status::Cancelled();
      ++offered;
      if (!on_delta(delta)) return Status::Cancelled();
      if (flush_each && !on_delta(std::string_view())) return Status::Cancelled();  // like a paced upstream
    }
    if (!flush_each && !on_delta(std::string_view())) return Status::Cancelled();
    return final_status;
  }
  std::string Describe() const override { return "fake"; }

  std::vector<ChatRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<ChatRequest> requests_;
};

// An environment with the given variables whose every provider is `client`;
// `chosen` (if given) records the settings each step asked for.
inline StepEnvironment FakeEnvironment(std::shared_ptr<LlmClient> client,
                                       std::map<std::string, std::string> variables = {},
                                       std::vector<ProviderSettings>* chosen = nullptr) {
  StepEnvironment environment;
  environment.getenv = [variables](const std::string& name) -> std::optional<std::string> {
    auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
  environment.make_llm_client = [client, chosen](const ProviderSettings& settings) {
    if (chosen != nullptr) chosen->push_back(settings);
    return client;
  };
  return environment;
}

inline StepRegistry BuiltinRegistry() {
  StepRegistry registry;
  RegisterBuiltinSteps(registry);
  return registry;
}

}  // namespace flowrun::testing
