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
    bool quiet = false;                  // inside a tool's flow: chunks reach no client
  };

  Interpreter(const EventSink& sink, RunEnvironment& env, RunResult& result) : sink_(sink), env_(env), result_(result) {}

  Task<Outcome> RunBlock(const std::vector<FlowStep>& steps, Frame frame);

  // Sends an event; a consumer that has gone cancels the run.
  void Emit(const Event& event);
  bool step_events() const { return env_.step_events; }
  Event StepEvent(Event::Type type, const FlowStep& step, const Frame& frame) const;
  Failure FailureAt(const FlowStep& step, const Frame& frame, std::string message) const;

 private:
  using Clock = std::chrono::steady_clock;

  // What every step starts and ends with, on either path: a cancelled
  // scope or the step limit refuses it; step:before goes out (`after` is
  // then the step:after to fill in); its `if:` may skip it; step:after
  // goes out when it finished. Without step events nothing is built.
  Outcome Admit(const FlowStep& step, const Frame& frame);
  Clock::time_point BeginStep(const FlowStep& step, const Frame& frame, Event& after);
  Outcome CheckCondition(const FlowStep& step, const Frame& frame, bool* skipped) const;
  void EndStep(Event& after, Clock::time_point started, bool skipped);

  Task<Outcome> RunStep(const FlowStep& step, Frame frame);
  // One attempt: the step's own scope (its timeout cancels it), then its body.
  Task<Outcome> RunAttempt(const FlowStep& step, Frame frame, Activation& activation, Event& after);
  Task<Outcome> RunLeaf(const FlowStep& step, Frame frame, Activation& activation, StepReport& report);

  // step_hooks.cpp: what a leaf step's context offers besides chunks.
  Event NoteEvent(StepNote note, const nlohmann::json& detail, const FlowStep& step, const Frame& frame) const;
  Task<Status> CallForTool(const FlowStep& step, Frame frame, std::string name, nlohmann::json input,
                           nlohmann::json* state);
  Task<Outcome> RunFallback(const FlowStep& step, Frame frame, Activation& activation, const Failure& failure);

  // direct_runner.cpp: a direct step (FlowStep::direct) and a block of
  // them, as plain calls.
  Outcome RunDirect(const FlowStep& step, const Frame& frame);
  Outcome RunBlockDirect(const std::vector<FlowStep>& steps, const Frame& frame);

  // control_runner.cpp
  // set and fail do all their work here; if and switch choose the block to
  // run (*block; -1: none). Never waits: both paths share it.
  Outcome Decide(const FlowStep& step, const Frame& frame, Event& after, int* block);
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
