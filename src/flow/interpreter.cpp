// The interpreter's blocks, steps and policies (interpreter.h); control
// steps are in control_runner.cpp.
#include "flow/interpreter.h"

#include "core/loop_awaitables.h"
#include "flow/evaluate.h"

namespace flowrun {
namespace {

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Runs one leaf step, turning an exception from a (custom) step into an error.
Task<Status> RunStepObject(const Step& step, StepContext& context) {
  Status status;
  try {
    status = co_await step.RunAsync(context);
  } catch (const std::exception& error) {
    status = Status::Error(StatusCode::kInternal, std::string("internal error in step: ") + error.what());
  }
  co_return status;
}

}  // namespace

nlohmann::json InitialState(const nlohmann::json& input) {
  nlohmann::json state = nlohmann::json::object();
  state["input"] = input;
  // A `history` input seeds the conversation (multi-turn chat).
  auto history = input.find("history");
  state["history"] = history != input.end() && history->is_array() ? *history : nlohmann::json::array();
  return state;
}

void Interpreter::Emit(const Event& event) {
  if (!sink_(event)) env_.scope.Cancel("client disconnected");
}

Event Interpreter::StepEvent(Event::Type type, const FlowStep& step, const Frame& frame) const {
  Event event;
  event.type = type;
  event.step = step.id;
  event.step_type = step.type;
  event.path = frame.prefix == nullptr || frame.prefix->empty() ? step.path : *frame.prefix + step.path;
  event.index = step.index;
  event.iteration = frame.iteration;
  return event;
}

Interpreter::Failure Interpreter::FailureAt(const FlowStep& step, const Frame& frame, std::string message) const {
  Failure failure;
  failure.message = std::move(message);
  failure.step = step.id;
  failure.path = frame.prefix == nullptr || frame.prefix->empty() ? step.path : *frame.prefix + step.path;
  failure.iteration = frame.iteration;
  return failure;
}

Task<Interpreter::Outcome> Interpreter::RunBlock(const std::vector<FlowStep>& steps, Frame frame) {
  const bool direct = env_.direct_steps;
  for (const FlowStep& step : steps) {
    Outcome outcome;
    if (direct && step.direct) {
      outcome = RunDirect(step, frame);
    } else {
      Outcome ran = co_await RunStep(step, frame);
      outcome = std::move(ran);
    }
    if (outcome) co_return outcome;
  }
  co_return std::nullopt;
}

Interpreter::Outcome Interpreter::Admit(const FlowStep& step, const Frame& frame) {
  if (frame.scope->cancelled()) return FailureAt(step, frame, frame.scope->reason());
  if (++steps_run_ > env_.max_steps) {
    return FailureAt(step, frame, "the run went past " + std::to_string(env_.max_steps) +
                                      " steps (the limit of steps per run)");
  }
  return std::nullopt;
}

Interpreter::Clock::time_point Interpreter::BeginStep(const FlowStep& step, const Frame& frame, Event& after) {
  if (!env_.step_events) return {};
  // One event is step:before and then, retyped, step:after: a step builds
  // (and copies its id and path into) one event, not two.
  after = StepEvent(Event::Type::kStepBefore, step, frame);
  Emit(after);
  after.type = Event::Type::kStepAfter;
  return Clock::now();
}

Interpreter::Outcome Interpreter::CheckCondition(const FlowStep& step, const Frame& frame, bool* skipped) const {
  *skipped = false;
  if (!step.policy.condition) return std::nullopt;
  bool holds = false;
  Status evaluated = HoldsIn(*step.policy.condition, *frame.state, &holds);
  if (!evaluated.ok()) return FailureAt(step, frame, "in 'if': " + evaluated.message());
  *skipped = !holds;
  return std::nullopt;
}

void Interpreter::EndStep(Event& after, Clock::time_point started, bool skipped) {
  if (!env_.step_events) return;
  after.skipped = skipped;
  after.duration_ms = MillisecondsSince(started);
  Emit(after);
}

// if -> (attempt: timeout -> body) x retry -> on_error.
Task<Interpreter::Outcome> Interpreter::RunStep(const FlowStep& step, Frame frame) {
  if (Outcome refused = Admit(step, frame)) co_return refused;
  Event after;
  const Clock::time_point started = BeginStep(step, frame, after);
  Activation activation{frame.parent, 0};
  bool skipped = false;
  Outcome outcome = CheckCondition(step, frame, &skipped);
  if (!skipped && !outcome) {
    // Kept for retries: a later attempt starts from the state the first one saw.
    std::optional<nlohmann::json> before;
    if (step.policy.max_attempts > 1) before = *frame.state;
    for (int attempt = 1;; ++attempt) {
      after.attempts = attempt;
      Outcome attempted = co_await RunAttempt(step, frame, activation, after);
      outcome = std::move(attempted);
      // Not again: it finished, the run (or its block) is stopping, it
      // already streamed to the client, or it has no attempts left.
      if (!outcome || frame.scope->cancelled() || activation.chunks > 0 || attempt >= step.policy.max_attempts) {
        break;
      }
      if (step.policy.backoff_ms > 0) {
        const bool slept =
            co_await Sleep(env_.loop, std::chrono::milliseconds(step.policy.backoff_ms), frame.scope);
        if (!slept) {
          outcome = FailureAt(step, frame, frame.scope->reason());
          break;
        }
      }
      *frame.state = *before;
      const int attempts = after.attempts;
      after = env_.step_events ? StepEvent(Event::Type::kStepAfter, step, frame) : Event();
      after.attempts = attempts;
    }
  }
  // on_error handles the step's own failures, never a run (or block) being stopped.
  if (outcome && !frame.scope->cancelled()) {
    if (step.policy.on_error == StepPolicy::OnError::kContinue) {
      after.handled_error = outcome->message;
      outcome.reset();
    } else if (step.policy.on_error == StepPolicy::OnError::kSteps) {
      const Failure failure = *outcome;
      Outcome fallback = co_await RunFallback(step, frame, activation, failure);
      outcome = std::move(fallback);
      if (!outcome) after.handled_error = failure.message;
    }
  }
  if (outcome) co_return outcome;  // no step:after for a step that failed
  EndStep(after, started, skipped);
  co_return std::nullopt;
}

Task<Interpreter::Outcome> Interpreter::RunAttempt(const FlowStep& step, Frame frame, Activation& activation,
                                                   Event& after) {
  CancelScope step_scope(*frame.scope);
  EventLoop::TimerId timer = 0;
  if (step.policy.timeout_ms > 0) {
    const std::string reason = "step '" + step.id + "' timed out after " + std::to_string(step.policy.timeout_ms) +
                               " ms (timeout_ms)";
    timer = env_.loop.After(std::chrono::milliseconds(step.policy.timeout_ms), [&step_scope, reason, &timer] {
      timer = 0;
      step_scope.Cancel(reason);
    });
  }
  Frame inner = frame;
  inner.scope = &step_scope;
  inner.parent = &activation;
  Outcome outcome;
  if (step.IsControl()) {
    Outcome ran = co_await RunControl(step, inner, after);
    outcome = std::move(ran);
  } else {
    StepReport report;
    Outcome ran = co_await RunLeaf(step, inner, activation, report);
    outcome = std::move(ran);
    if (report.has_usage) {
      RunResult::StepTokens& tokens = result_.step_tokens[step.id];
      tokens.prompt_tokens += report.prompt_tokens;
      tokens.completion_tokens += report.completion_tokens;
    }
    if (step.step->ReportsUsage()) {
      after.has_usage = true;
      after.prompt_tokens = report.prompt_tokens;
      after.completion_tokens = report.completion_tokens;
    }
    after.detail = std::move(report.tools);
  }
  if (timer != 0) env_.loop.CancelTimer(timer);
  // A step stopped by its own timeout fails with that reason, wherever inside it the stop was noticed.
  if (outcome && step_scope.cancelled() && !frame.scope->cancelled()) {
    outcome = FailureAt(step, frame, step_scope.reason());
  }
  co_return outcome;
}

Task<Interpreter::Outcome> Interpreter::RunLeaf(const FlowStep& step, Frame frame, Activation& activation,
                                                StepReport& report) {
  CancelScope& step_scope = *frame.scope;
  // Built once per step and reused for every token: no allocations per chunk.
  Event chunk = StepEvent(Event::Type::kChunk, step, frame);
  // The legacy token for synchronous steps and providers: set when the
  // step's scope is. The caller's token (the blocking RunFlow's) is only
  // set when the whole run stops, never by one step's timeout.
  Cancellation own_cancel;
  Cancellation& step_cancel = env_.cancel != nullptr ? *env_.cancel : own_cancel;
  CancelScope& run_scope = env_.scope;
  const bool own = env_.cancel == nullptr;
  const CancelScope::CallbackId bridge = step_scope.OnCancel([&step_cancel, &step_scope, &run_scope, own] {
    if (own || run_scope.cancelled()) step_cancel.Cancel(step_scope.reason());
  });
  StepContext context{step.id, *frame.state, step_cancel,
                      [&](std::string_view text) {
                        if (step_scope.cancelled()) return false;
                        if (frame.quiet) return true;  // a tool's flow: its text goes to the model only
                        if (text.empty()) {
                          if (env_.flush && !env_.flush()) run_scope.Cancel("client disconnected");
                        } else {
                          chunk.text.assign(text);
                          for (Activation* at = &activation; at != nullptr; at = at->parent) ++at->chunks;
                          Emit(chunk);
                        }
                        return !step_scope.cancelled();
                      },
                      result_.counters};
  context.loop = &env_.loop;
  context.scope = &step_scope;
  context.flow = env_.flow;
  context.model_overrides = env_.model_overrides;
  context.report = &report;
  if (env_.step_events) {
    context.note = [this, &step, &frame](StepNote note, const nlohmann::json& detail) {
      Emit(NoteEvent(note, detail, step, frame));
    };
  }
  context.call_flow = [this, &step, frame](const std::string& name, nlohmann::json input, nlohmann::json* state) {
    return CallForTool(step, frame, name, std::move(input), state);
  };
  const uint64_t chunks_before = activation.chunks;
  Status status = co_await RunStepObject(*step.step, context);
  step_scope.RemoveCallback(bridge);  // it refers to this frame's token
  if (activation.chunks > chunks_before) {
    const std::string key = step.step->StreamedOutputKey();
    result_.streamed_output = key.empty() ? nlohmann::json() : frame.state->value(key, nlohmann::json());
  }
  if (status.ok()) co_return std::nullopt;
  // A step stopped by cancellation reports why the run was cancelled.
  if (!step_scope.cancelled() && step_cancel.IsCancelled()) run_scope.Cancel(step_cancel.Reason());
  co_return FailureAt(step, frame, step_scope.cancelled() ? step_scope.reason() : status.message());
}

// The step's on_error steps, with `error` = {message, step} in the scope
// while they run (the previous value, if any, comes back after).
Task<Interpreter::Outcome> Interpreter::RunFallback(const FlowStep& step, Frame frame, Activation& activation,
                                                    const Failure& failure) {
  nlohmann::json& state = *frame.state;
  std::optional<nlohmann::json> saved;
  if (auto found = state.find("error"); found != state.end()) saved = *found;
  state["error"] = {{"message", failure.message}, {"step", failure.step}};
  Frame inner = frame;
  inner.parent = &activation;
  Outcome outcome = co_await RunBlock(step.blocks[step.policy.fallback_block].steps, inner);
  if (saved) {
    state["error"] = std::move(*saved);
  } else {
    state.erase("error");
  }
  co_return outcome;
}

}  // namespace flowrun
