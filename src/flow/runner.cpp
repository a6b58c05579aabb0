// The run (runner.h): the interpreter over the flow's top-level block, the
// error and done events, and the blocking driver.
#include "flow/runner.h"

#include <chrono>
#include <optional>

#include "flow/interpreter.h"

namespace flowrun {
namespace {

// How often the blocking RunFlow looks at a Cancellation set by another thread.
constexpr std::chrono::milliseconds kCancelPoll{20};

}  // namespace

Task<RunResult> RunFlowAsync(const Flow& flow, nlohmann::json input, EventSink sink, RunEnvironment env) {
  RunResult result;
  result.state = InitialState(input);
  Interpreter interpreter(sink, env, result);
  const std::string prefix;
  Interpreter::Frame frame;
  frame.state = &result.state;
  frame.scope = &env.scope;
  frame.prefix = &prefix;
  Interpreter::Outcome outcome = co_await interpreter.RunBlock(flow.steps, frame);
  result.ok = !outcome.has_value();
  if (outcome) {
    result.error = outcome->message;
    result.error_step = outcome->step;
    result.error_path = outcome->path;
    Event error;
    error.type = Event::Type::kError;
    error.step = outcome->step;
    error.path = outcome->path;
    error.iteration = outcome->iteration;
    error.text = outcome->message;
    interpreter.Emit(error);
  }
  Event done;
  done.ok = result.ok;
  done.has_usage = true;
  done.prompt_tokens = result.counters.prompt_tokens;
  done.completion_tokens = result.counters.completion_tokens;
  interpreter.Emit(done);
  co_return result;
}

RunResult RunFlow(const Flow& flow, const nlohmann::json& input, const EventSink& sink, Cancellation& cancel,
                  const FlushHint& flush, std::shared_ptr<const FlowLibrary> library, int max_steps) {
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
  RunEnvironment env{loop, scope, nullptr, flush, &cancel, std::move(library), max_steps};
  // Started inside Run(), as on a run loop: what the run sets up (a
  // transfer, timers) is then seen by the loop's next wait.
  auto start = [&] {
    StartTask(RunFlowAsync(flow, input, sink, env), [&](std::optional<RunResult> value, std::exception_ptr error) {
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
