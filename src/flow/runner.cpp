// The run interpreter (runner.h): steps in order, each awaited on the run's
// loop, with a cancel scope per step below the run's.
#include "flow/runner.h"

#include <chrono>
#include <optional>

namespace flowrun {
namespace {

// How often the blocking RunFlow looks at a Cancellation set by another thread.
constexpr std::chrono::milliseconds kCancelPoll{20};

nlohmann::json InitialState(const nlohmann::json& input) {
  nlohmann::json state = nlohmann::json::object();
  state["input"] = input;
  // A `history` input seeds the conversation (multi-turn chat).
  auto history = input.find("history");
  state["history"] = history != input.end() && history->is_array() ? *history : nlohmann::json::array();
  return state;
}

Event StepEvent(Event::Type type, const FlowStep& step, size_t index, std::string text = "") {
  Event event;
  event.type = type;
  event.step = step.id;
  event.step_type = step.type;
  event.index = static_cast<int>(index);
  event.text = std::move(text);
  return event;
}

// Runs one step, turning an exception from a (custom) step into an error.
Task<Status> RunStep(const Step& step, StepContext& context) {
  Status status;
  try {
    status = co_await step.RunAsync(context);
  } catch (const std::exception& error) {
    status = Status::Error(StatusCode::kInternal, std::string("internal error in step: ") + error.what());
  }
  co_return status;
}

}  // namespace

Task<RunResult> RunFlowAsync(const Flow& flow, nlohmann::json input, EventSink sink, RunEnvironment env) {
  RunResult result;
  result.state = InitialState(input);
  CancelScope& run_scope = env.scope;
  auto emit = [&](const Event& event) {
    if (!sink(event)) run_scope.Cancel("client disconnected");
  };
  auto fail = [&](const FlowStep& step, size_t index, std::string message) {
    result.error = std::move(message);
    result.error_step = step.id;
    emit(StepEvent(Event::Type::kError, step, index, result.error));
  };

  for (size_t i = 0; i < flow.steps.size() && result.error_step.empty(); ++i) {
    const FlowStep& flow_step = flow.steps[i];
    if (run_scope.cancelled()) {
      fail(flow_step, i, run_scope.reason());
      break;
    }
    emit(StepEvent(Event::Type::kStepBefore, flow_step, i));
    auto started = std::chrono::steady_clock::now();
    // Built once per step and reused for every token: no allocations per chunk.
    Event chunk = StepEvent(Event::Type::kChunk, flow_step, i);
    CancelScope step_scope(run_scope);
    // The legacy token for synchronous steps and providers: set when the step's scope is.
    Cancellation own_cancel;
    Cancellation& step_cancel = env.cancel != nullptr ? *env.cancel : own_cancel;
    step_scope.OnCancel([&step_cancel, &step_scope] { step_cancel.Cancel(step_scope.reason()); });
    StepContext context{flow_step.id, result.state, step_cancel,
                        [&](std::string_view text) {
                          if (text.empty()) {
                            if (env.flush && !env.flush()) run_scope.Cancel("client disconnected");
                          } else {
                            chunk.text.assign(text);
                            emit(chunk);
                          }
                          return !step_scope.cancelled();
                        },
                        result.counters};
    context.loop = &env.loop;
    context.scope = &step_scope;
    context.flow = env.flow;
    Status status = co_await RunStep(*flow_step.step, context);
    if (!status.ok()) {
      // A step stopped by cancellation reports why the run was cancelled.
      if (!step_scope.cancelled() && step_cancel.IsCancelled()) run_scope.Cancel(step_cancel.Reason());
      fail(flow_step, i, step_scope.cancelled() ? step_scope.reason() : status.message());
      break;
    }
    Event after = StepEvent(Event::Type::kStepAfter, flow_step, i);
    after.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    emit(after);
  }
  result.ok = result.error_step.empty();
  Event done;
  done.ok = result.ok;
  emit(done);
  co_return result;
}

RunResult RunFlow(const Flow& flow, const nlohmann::json& input, const EventSink& sink, Cancellation& cancel,
                  const FlushHint& flush) {
  EventLoop loop;
  CancelScope scope;
  const Status initialised = loop.Init();
  if (const Status& status = initialised; !status.ok()) {
    // Without a loop nothing can wait; the run still ends with error + done.
    scope.Cancel("cannot start the run's event loop: " + status.message());
  }
  if (cancel.cancelled()) scope.Cancel(cancel.Reason());
  std::optional<RunResult> result;
  std::exception_ptr failure;
  bool finished = false;
  // Started inside Run(), as on a run loop: what the run sets up (a
  // transfer, timers) is then seen by the loop's next wait.
  auto start = [&] {
    StartTask(RunFlowAsync(flow, input, sink, RunEnvironment{loop, scope, nullptr, flush, &cancel}),
              [&](std::optional<RunResult> value, std::exception_ptr error) {
                result = std::move(value);
                failure = error;
                finished = true;
                loop.Stop();
              });
  };
  if (!initialised.ok()) {
    start();  // cancelled above: the run ends at once, with error and done
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
  }
  loop.Post(start);
  // Another thread may cancel: look every kCancelPoll.
  std::function<void()> poll = [&] {
    if (cancel.IsCancelled()) scope.Cancel(cancel.Reason());
    if (!finished) loop.After(kCancelPoll, poll);
  };
  loop.After(kCancelPoll, poll);
  loop.Run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

}  // namespace flowrun
