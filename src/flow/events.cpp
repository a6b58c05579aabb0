// Naming and JSON shapes of run events.
#include "flow/events.h"

namespace flowrun {
namespace {

void AddPlace(const Event& event, nlohmann::json& out) {
  out["step"] = event.step;
  out["path"] = event.path;
  if (event.iteration > 0) out["iteration"] = event.iteration;
}

void AddUsage(const Event& event, nlohmann::json& out) {
  out["usage"] = {{"prompt_tokens", event.prompt_tokens}, {"completion_tokens", event.completion_tokens}};
}

}  // namespace

const char* EventName(Event::Type type) {
  switch (type) {
    case Event::Type::kStepBefore:
      return "step:before";
    case Event::Type::kStepAfter:
      return "step:after";
    case Event::Type::kChunk:
      return "chunk";
    case Event::Type::kError:
      return "error";
    case Event::Type::kDone:
      return "done";
    case Event::Type::kReasoning:
      return "reasoning";
    case Event::Type::kToolCall:
      return "tool_call";
    case Event::Type::kToolResult:
      return "tool_result";
  }
  return "unknown";
}

nlohmann::json EventData(const Event& event) {
  nlohmann::json out = nlohmann::json::object();
  switch (event.type) {
    case Event::Type::kChunk:
      return event.text;
    case Event::Type::kDone:
      out["ok"] = event.ok;
      if (event.has_usage) AddUsage(event, out);
      return out;
    case Event::Type::kReasoning:
      AddPlace(event, out);
      out["text"] = event.text;
      return out;
    case Event::Type::kToolCall:
    case Event::Type::kToolResult:
      AddPlace(event, out);
      if (event.detail.is_object()) out.update(event.detail);
      return out;
    case Event::Type::kError:
      out["error"] = event.text;
      AddPlace(event, out);
      return out;
    case Event::Type::kStepBefore:
    case Event::Type::kStepAfter:
      AddPlace(event, out);
      out["type"] = event.step_type;
      out["index"] = event.index;
      break;
  }
  if (event.type == Event::Type::kStepAfter) {
    out["duration_ms"] = event.duration_ms;
    if (!event.branch.empty()) out["branch"] = event.branch;
    if (event.iterations >= 0) out["iterations"] = event.iterations;
    if (event.limit_reached) out["limit_reached"] = true;
    if (event.skipped) out["skipped"] = true;
    if (!event.handled_error.empty()) out["error"] = event.handled_error;
    if (event.attempts > 1) out["attempts"] = event.attempts;
    if (event.has_usage) AddUsage(event, out);
    if (event.detail.is_array()) out["tools"] = event.detail;
  }
  return out;
}

nlohmann::json EventToJson(const Event& event) {
  nlohmann::json out = {{"event", EventName(event.type)}};
  switch (event.type) {
    case Event::Type::kChunk:
      AddPlace(event, out);
      out["text"] = event.text;
      break;
    default:
      out.update(EventData(event));
      break;
  }
  return out;
}

}  // namespace flowrun
