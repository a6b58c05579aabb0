// SSE framing. JSON dumps never contain a raw newline, so each payload is
// exactly one data: line.
#include "server/sse.h"

#include "core/json_text.h"

namespace flowrun {

std::string FormatSseEvent(const Event& event, uint64_t id) {
  std::string out = "event: ";
  out += EventName(event.type);
  out += "\nid: ";
  out += std::to_string(id);
  out += "\ndata: ";
  if (event.type == Event::Type::kDone) {
    out += "[DONE]";
  } else {
    out += DumpJson(EventData(event));
  }
  out += "\n\n";
  return out;
}

std::string SseHeartbeat() { return ": ping\n\n"; }

}  // namespace flowrun
