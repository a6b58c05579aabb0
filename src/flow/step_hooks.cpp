// The interpreter's side of what a leaf step may ask of its run besides
// chunks (interpreter.h): side events (reasoning, tool_call, tool_result)
// and calls of other flows for `flow:` tools. Loop thread only.
#include "flow/interpreter.h"

namespace flowrun {

Event Interpreter::NoteEvent(StepNote note, const nlohmann::json& detail, const FlowStep& step,
                             const Frame& frame) const {
  Event event = StepEvent(Event::Type::kReasoning, step, frame);
  switch (note) {
    case StepNote::kReasoning:
      event.text = detail.value("text", "");
      break;
    case StepNote::kToolCall:
      event.type = Event::Type::kToolCall;
      event.detail = detail;
      break;
    case StepNote::kToolResult:
      event.type = Event::Type::kToolResult;
      event.detail = detail;
      break;
  }
  return event;
}

// Runs in the calling step's scope (its timeout and cancellation stop the
// called flow too), quietly: the called flow's chunks go nowhere, its step
// events (with paths under "<step>/tool.<flow>/") go out as usual.
Task<Status> Interpreter::CallForTool(const FlowStep& step, Frame frame, std::string name, nlohmann::json input,
                                      nlohmann::json* state) {
  if (frame.calls >= kMaxCallDepth) {
    co_return Status::ResourceExhausted("calls nest more than " + std::to_string(kMaxCallDepth) +
                                        " deep (the limit of nested calls per run)");
  }
  std::shared_ptr<const Flow> callee = env_.library ? env_.library->Find(name) : nullptr;
  if (callee == nullptr) co_return Status::NotFound("no flow named '" + name + "' is loaded");
  InputError error;
  std::optional<nlohmann::json> validated = callee->input.Validate(input, &error);
  if (!validated) co_return Status::InvalidArgument("flow '" + callee->name + "': " + error.message);
  *state = InitialState(*validated);
  const std::string prefix = StepEvent(Event::Type::kStepAfter, step, frame).path + "/tool." + callee->name + "/";
  Frame inner = frame;
  inner.state = state;
  inner.prefix = &prefix;
  inner.calls = frame.calls + 1;
  inner.quiet = true;
  Outcome outcome = co_await RunBlock(callee->steps, inner);
  if (outcome) co_return Status::Error("flow '" + callee->name + "' failed at step '" + outcome->step + "': " + outcome->message);
  co_return Status::Ok();
}

}  // namespace flowrun
