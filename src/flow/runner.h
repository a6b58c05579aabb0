// The runner: an interpreter that walks a flow's tree of steps over a fresh
// per-run state and reports progress as events. A run is a task pinned to
// one event loop: its state lives in task frames on the heap, and a step
// that waits (a model's tokens, a timer) suspends it without holding a
// thread; parallel branches and map items are child tasks on the same loop,
// joined. Runs share only the immutable Flow (and FlowLibrary), so any
// number run at once, on any number of loops; one run belongs to one loop
// thread.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cancel_scope.h"
#include "core/cancellation.h"
#include "core/event_loop.h"
#include "core/flow_control.h"
#include "core/task.h"
#include "flow/events.h"
#include "flow/flow.h"
#include "flow/flow_library.h"

namespace flowrun {

// Receives every event in order. Returns false when the consumer has gone;
// the run is then cancelled (its model transfer aborted) and ends quickly.
using EventSink = std::function<bool(const Event& event)>;

// Called when a step's producer has nothing more ready for now (a model
// handed over a burst of tokens): a consumer that batches chunks should
// send what it holds. Not an event: it carries nothing of the run. Returns
// false, as the sink does, when the consumer has gone.
using FlushHint = std::function<bool()>;

// Steps a run may execute (control steps, skipped steps and every loop
// iteration's steps count); past it the run fails with an error naming it.
inline constexpr int kMaxStepsPerRun = 1000;
// `call` steps inside each other (a flow calling a flow calling ...).
inline constexpr int kMaxCallDepth = 16;

struct RunResult {
  bool ok = false;
  std::string error;      // the failing step's message
  std::string error_step;
  std::string error_path;
  nlohmann::json state;   // the final state
  RunCounters counters;
  // The value under the output key of the last step that streamed chunks to
  // the client, as that step left it (null when no step did).
  nlohmann::json streamed_output;
  // Token usage by model step id (summed over its runs in this run, called
  // flows' steps included), for metrics and logs.
  struct StepTokens {
    long long prompt_tokens = 0;
    long long completion_tokens = 0;
  };
  std::map<std::string, StepTokens> step_tokens;
};

// Where a run executes. All of it belongs to the loop's thread and outlives the run.
struct RunEnvironment {
  EventLoop& loop;
  CancelScope& scope;           // the run's scope: cancelling it ends the run, its reason the error
  FlowControl* flow = nullptr;  // the consumer's backlog, handed to steps (may be null)
  FlushHint flush;              // may be empty
  // The token synchronous steps and providers see (StepContext::cancel):
  // the blocking RunFlow passes its caller's; null: a fresh one per step,
  // cancelled with the step's scope.
  Cancellation* cancel = nullptr;
  // The flows `call` steps may run (may be null: then a call fails).
  std::shared_ptr<const FlowLibrary> library;
  int max_steps = kMaxStepsPerRun;
  // Sampling settings for every model step of the run (may be null: none).
  const ModelOverrides* model_overrides = nullptr;
  // Whether the sink takes step:before / step:after. false (a consumer that
  // drops them, as the SSE stream does unless ?events=all): none is built or
  // sent; chunk, error and done still are.
  bool step_events = true;
  // Steps that never wait (FlowStep::direct) run as plain calls; false runs
  // every step as a task, as the tests that compare the two paths do.
  bool direct_steps = true;
};

// `input` must already be validated by flow.input. `done` is always the last
// event, also after an error or cancellation.
Task<RunResult> RunFlowAsync(const Flow& flow, nlohmann::json input, EventSink sink, RunEnvironment env);

// The same run, driven to its end on an event loop of the calling thread
// (`flowrun run`, tests). `cancel` may be cancelled from any thread.
RunResult RunFlow(const Flow& flow, const nlohmann::json& input, const EventSink& sink, Cancellation& cancel,
                  const FlushHint& flush = nullptr, std::shared_ptr<const FlowLibrary> library = nullptr,
                  int max_steps = kMaxStepsPerRun);

}  // namespace flowrun
