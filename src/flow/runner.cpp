// Sequential execution of a flow's steps with event emission.
#include "flow/runner.h"

#include <chrono>

namespace flowrun {
namespace {

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

}  // namespace

RunResult RunFlow(const Flow& flow, const nlohmann::json& input, const EventSink& sink,
                  Cancellation& cancel) {
  RunResult result;
  result.state = InitialState(input);
  auto emit = [&](const Event& event) {
    if (!sink(event)) cancel.Cancel("client disconnected");
  };
  auto fail = [&](const FlowStep& step, size_t index, std::string message) {
    result.error = std::move(message);
    result.error_step = step.id;
    emit(StepEvent(Event::Type::kError, step, index, result.error));
  };

  for (size_t i = 0; i < flow.steps.size() && result.error_step.empty(); ++i) {
    const FlowStep& flow_step = flow.steps[i];
    if (cancel.IsCancelled()) {
      fail(flow_step, i, cancel.Reason());
      break;
    }
    emit(StepEvent(Event::Type::kStepBefore, flow_step, i));
    auto started = std::chrono::steady_clock::now();
    // Built once per step and reused for every token: no allocations per chunk.
    Event chunk = StepEvent(Event::Type::kChunk, flow_step, i);
    const Event flush = StepEvent(Event::Type::kFlush, flow_step, i);
    StepContext context{flow_step.id, result.state, cancel, [&](std::string_view text) {
                          if (text.empty()) {
                            emit(flush);
                          } else {
                            chunk.text.assign(text);
                            emit(chunk);
                          }
                          // The model client runs the full check (probe) itself.
                          return !cancel.cancelled();
                        },
                        result.counters};
    Status status;
    try {
      status = flow_step.step->Run(context);
    } catch (const std::exception& error) {
      // A bug in a (custom) step must still end the stream with error + done.
      status = Status::Error(std::string("internal error in step: ") + error.what());
    }
    if (!status.ok()) {
      // A step stopped by cancellation reports why the run was cancelled.
      fail(flow_step, i, cancel.IsCancelled() ? cancel.Reason() : status.message());
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
  return result;
}

}  // namespace flowrun
