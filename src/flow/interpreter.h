// Internal to the runner: the interpreter over a flow's tree. One per run,
// living in the run's task frame; every block, branch and map item it runs
// is a coroutine on the run's loop (no thread, no stack held while a step
// waits). Each step runs with its policies (if, retry, timeout_ms,
// on_error) around it, in a cancel scope below its block's. Loop thread
// only.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "flow/runner.h"

namespace flowrun {

class Interpreter {
 public:
  // Why a step (and so its block) did not finish.
  struct Failure {
    std::string message;
    std::string step;  // the id of the step that failed first
    std::string path;
    int iteration = 0;
  };
  using Outcome = std::optional<Failure>;  // nullopt: finished

  // One step being executed: chunks sent from inside it are counted on it
  // and its ancestors (a step that streamed is never retried).
  struct Activation {
    Activation* parent = nullptr;
    uint64_t chunks = 0;
  };

  // Where a block runs.
  struct Frame {
    nlohmann::json* state = nullptr;     // the scope's state (a branch's or map item's own)
    CancelScope* scope = nullptr;        // the enclosing step's scope (the run's at the top)
    const std::string* prefix = nullptr;  // prepended to paths: "" or "<call path>/flow.<name>/"
    int iteration = 0;                   // innermost loop/map iteration, from 1; 0: none
    int calls = 0;                       // `call` steps this block is inside
    Activation* parent = nullptr;        // the enclosing step's activation
  };

  Interpreter(const EventSink& sink, RunEnvironment& env, RunResult& result) : sink_(sink), env_(env), result_(result) {}

  Task<Outcome> RunBlock(const std::vector<FlowStep>& steps, Frame frame);

  // Sends an event; a consumer that has gone cancels the run.
  void Emit(const Event& event);
  Event StepEvent(Event::Type type, const FlowStep& step, const Frame& frame) const;
  Failure FailureAt(const FlowStep& step, const Frame& frame, std::string message) const;

 private:
  Task<Outcome> RunStep(const FlowStep& step, Frame frame);
  // One attempt: the step's own scope (its timeout cancels it), then its body.
  Task<Outcome> RunAttempt(const FlowStep& step, Frame frame, Activation& activation, Event& after);
  Task<Outcome> RunLeaf(const FlowStep& step, Frame frame, Activation& activation);
  Task<Outcome> RunFallback(const FlowStep& step, Frame frame, Activation& activation, const Failure& failure);

  // control_runner.cpp
  Task<Outcome> RunControl(const FlowStep& step, Frame frame, Event& after);
  Task<Outcome> RunLoop(const FlowStep& step, Frame frame, Event& after);
  Task<Outcome> RunParallel(const FlowStep& step, Frame frame);
  Task<Outcome> RunMap(const FlowStep& step, Frame frame, Event& after);
  Task<Outcome> RunCall(const FlowStep& step, Frame frame);
  struct Join;
  Task<Outcome> RunBranch(const FlowBlock& block, Frame frame, Join* join);
  Task<Outcome> RunMapItem(const FlowStep& step, Frame frame, size_t index, Join* join);

  const EventSink& sink_;
  RunEnvironment& env_;
  RunResult& result_;
  int steps_run_ = 0;
};

// {"input": ..., "history": [...]}: a run's state before its first step.
nlohmann::json InitialState(const nlohmann::json& input);

}  // namespace flowrun
