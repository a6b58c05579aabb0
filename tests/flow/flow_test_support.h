// Helpers for tests of the flow tree: load a flow from YAML (failing the
// test with its diagnostics), run it and trace its events compactly, and a
// few test step types (flaky, wait). Test code only; each helper is used by
// one thread at a time.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/loop_awaitables.h"
#include "fakes/fake_llm_client.h"
#include "flow/flow_loader.h"
#include "flow/runner.h"

namespace flowrun::testing {

// `flaky`: fails with "flaky failure N" until it has run `succeed_on`
// times in all (counted across runs in `runs`), then writes `output`.
class FlakyStep : public Step {
 public:
  FlakyStep(std::shared_ptr<std::atomic<int>> runs, int succeed_on, std::string output)
      : runs_(std::move(runs)), succeed_on_(succeed_on), output_(std::move(output)) {}
  Status Run(StepContext& context) const override {
    const int run = ++*runs_;
    if (run < succeed_on_) return Status::Error("flaky failure " + std::to_string(run));
    context.state[output_] = "ok after " + std::to_string(run);
    return Status::Ok();
  }

 private:
  std::shared_ptr<std::atomic<int>> runs_;
  int succeed_on_;
  std::string output_;
};

// `wait`: sleeps `ms` on the run's loop (cut short when its scope is
// cancelled: then it fails with "cancelled"), then writes `output`.
class WaitStep : public Step {
 public:
  WaitStep(int ms, std::string output) : ms_(ms), output_(std::move(output)) {}
  Task<Status> RunAsync(StepContext& context) const override {
    const bool slept = co_await Sleep(*context.loop, std::chrono::milliseconds(ms_), context.scope);
    if (!slept) co_return Status::Cancelled();
    context.state[output_] = "waited " + std::to_string(ms_);
    co_return Status::Ok();
  }

 private:
  int ms_;
  std::string output_;
};

// The built-in types plus flaky (its counter is `runs`) and wait.
inline StepRegistry TestRegistry(std::shared_ptr<std::atomic<int>> runs = std::make_shared<std::atomic<int>>(0)) {
  StepRegistry registry = BuiltinRegistry();
  StepType flaky;
  flaky.name = "flaky";
  flaky.description = "fails until it has run succeed_on times";
  flaky.params = {{"succeed_on", ParamType::kInteger, false, 1, "", {}},
                  {"output", ParamType::kString, false, "flaky", "", {}}};
  flaky.factory = [runs](const StepConfig& config, const StepEnvironment&, Status*) {
    return std::make_unique<FlakyStep>(runs, config.params.at("succeed_on").get<int>(),
                                       config.params.at("output").get<std::string>());
  };
  EXPECT_TRUE(registry.Register(flaky).ok());
  StepType wait;
  wait.name = "wait";
  wait.description = "sleeps on the loop";
  wait.params = {{"ms", ParamType::kInteger, true, nullptr, "", {}},
                 {"output", ParamType::kString, false, "waited", "", {}}};
  wait.factory = [](const StepConfig& config, const StepEnvironment&, Status*) {
    return std::make_unique<WaitStep>(config.params.at("ms").get<int>(), config.params.at("output").get<std::string>());
  };
  EXPECT_TRUE(registry.Register(wait).ok());
  return registry;
}

// The flow in `yaml`, or nullptr after failing the test with its diagnostics.
inline std::shared_ptr<const Flow> LoadOrFail(const std::string& yaml, const StepRegistry& registry,
                                              const StepEnvironment& environment, const std::string& file = "flow.yaml") {
  LoadResult result = LoadFlowFromString(yaml, file, registry, environment);
  EXPECT_TRUE(result.flow != nullptr) << result.diagnostics.ToString();
  return result.flow;
}

// What a load reports ("" when it loads).
inline std::string LoadErrors(const std::string& yaml, const StepRegistry& registry,
                              const StepEnvironment& environment) {
  LoadResult result = LoadFlowFromString(yaml, "flows/x.yaml", registry, environment);
  return result.diagnostics.ToString();
}

// One line per event: "before <path>", "chunk <path> <text>", "after <path>
// <extras>", "error <path> <message>", "done ok|failed".
inline std::string Describe(const Event& event) {
  switch (event.type) {
    case Event::Type::kStepBefore:
      return "before " + event.path + (event.iteration > 0 ? " #" + std::to_string(event.iteration) : "");
    case Event::Type::kChunk:
      return "chunk " + event.path + " " + event.text;
    case Event::Type::kStepAfter: {
      std::string line = "after " + event.path;
      if (event.iteration > 0) line += " #" + std::to_string(event.iteration);
      if (!event.branch.empty()) line += " branch=" + event.branch;
      if (event.iterations >= 0) line += " iterations=" + std::to_string(event.iterations);
      if (event.limit_reached) line += " limit_reached";
      if (event.skipped) line += " skipped";
      if (event.attempts > 1) line += " attempts=" + std::to_string(event.attempts);
      if (!event.handled_error.empty()) line += " error=" + event.handled_error;
      return line;
    }
    case Event::Type::kError:
      return "error " + event.path + " " + event.text;
    case Event::Type::kDone:
      return std::string("done ") + (event.ok ? "ok" : "failed");
    case Event::Type::kReasoning:
      return "reasoning " + event.path + " " + event.text;
    case Event::Type::kToolCall:
    case Event::Type::kToolResult:
      return std::string(EventName(event.type)) + " " + event.path + " " + event.detail.dump();
  }
  return "?";
}

struct Traced {
  std::vector<std::string> events;
  std::vector<Event> raw;
  RunResult result;
};

inline Traced TraceRun(const Flow& flow, const nlohmann::json& input = nlohmann::json::object(),
                       std::shared_ptr<const FlowLibrary> library = nullptr, int max_steps = kMaxStepsPerRun) {
  Traced traced;
  Cancellation cancel;
  traced.result = RunFlow(
      flow, input,
      [&](const Event& event) {
        traced.events.push_back(Describe(event));
        traced.raw.push_back(event);
        return true;
      },
      cancel, nullptr, std::move(library), max_steps);
  return traced;
}

}  // namespace flowrun::testing
