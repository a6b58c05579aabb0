// Naming and JSON shapes of run events.
#include "flow/events.h"

namespace flowrun {

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
  }
  return "unknown";
}

nlohmann::json EventData(const Event& event) {
  switch (event.type) {
    case Event::Type::kChunk:
      return event.text;
    case Event::Type::kError:
      return {{"error", event.text}, {"step", event.step}};
    case Event::Type::kStepBefore:
      return {{"step", event.step}, {"type", event.step_type}, {"index", event.index}};
    case Event::Type::kStepAfter:
      return {{"step", event.step},
              {"type", event.step_type},
              {"index", event.index},
              {"duration_ms", event.duration_ms}};
    case Event::Type::kDone:
      return nullptr;
  }
  return nullptr;
}

nlohmann::json EventToJson(const Event& event) {
  nlohmann::json out = {{"event", EventName(event.type)}};
  switch (event.type) {
    case Event::Type::kChunk:
      out["step"] = event.step;
      out["text"] = event.text;
      break;
    case Event::Type::kDone:
      out["ok"] = event.ok;
      break;
    default:
      out.update(EventData(event));
      break;
  }
  return out;
}

}  // namespace flowrun
