// The interpreter's direct path (interpreter.h): a step that never waits
// (FlowStep::direct: set, if, switch, fail without timeout_ms, retry or
// on_error steps, whose nested steps never wait either) runs as a plain
// call, with no coroutine frame, await or cancel scope of its own. What it
// does and emits is what RunStep would: the same Admit / BeginStep /
// CheckCondition / Decide / EndStep, and its nested block sees the same
// cancellation (a step's own scope only differs from its parent's through a
// timeout, which a direct step has not). Loop thread only.
#include "flow/interpreter.h"

namespace flowrun {

Interpreter::Outcome Interpreter::RunDirect(const FlowStep& step, const Frame& frame) {
  if (Outcome refused = Admit(step, frame)) return refused;
  Event after;
  const Clock::time_point started = BeginStep(step, frame, after);
  bool skipped = false;
  Outcome outcome = CheckCondition(step, frame, &skipped);
  if (!skipped && !outcome) {
    int block = -1;
    outcome = Decide(step, frame, after, &block);
    if (!outcome && block >= 0) outcome = RunBlockDirect(step.blocks[block].steps, frame);
  }
  // on_error: continue handles the step's own failures, never a run (or block) being stopped.
  if (outcome && !frame.scope->cancelled() && step.policy.on_error == StepPolicy::OnError::kContinue) {
    after.handled_error = outcome->message;
    outcome.reset();
  }
  if (outcome) return outcome;  // no step:after for a step that failed
  EndStep(after, started, skipped);
  return std::nullopt;
}

Interpreter::Outcome Interpreter::RunBlockDirect(const std::vector<FlowStep>& steps, const Frame& frame) {
  for (const FlowStep& step : steps) {
    if (Outcome outcome = RunDirect(step, frame)) return outcome;
  }
  return std::nullopt;
}

}  // namespace flowrun
