// SSE framing. JSON dumps never contain a raw newline, so each payload is
// exactly one data: line. Chunks, the bulk of the traffic, are escaped
// straight into the buffer; the rarer events go through nlohmann.
#include "server/sse.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/json_escape.h"
#include "core/json_text.h"

namespace flowrun {

void AppendSseEvent(const Event& event, uint64_t id, std::string& out, ChunkForm chunks) {
  const char* name = EventName(event.type);
  char id_text[20];  // UINT64_MAX has 20 digits
  const std::size_t id_length =
      static_cast<std::size_t>(std::to_chars(id_text, id_text + sizeof(id_text), id).ptr - id_text);
  const bool chunk = event.type == Event::Type::kChunk && chunks == ChunkForm::kText;
  // Framing (21 bytes) plus the payload, with headroom for a few escapes;
  // grown geometrically so that batching many events stays linear.
  const std::size_t wanted = out.size() + 21 + std::strlen(name) + id_length + (chunk ? event.text.size() : 0) + 48;
  if (out.capacity() < wanted) out.reserve(std::max(wanted, 2 * out.capacity()));
  out += "event: ";
  out += name;
  out += "\nid: ";
  out.append(id_text, id_length);
  out += "\ndata: ";
  if (event.type == Event::Type::kDone && chunks == ChunkForm::kText) {
    out += "[DONE]";
  } else if (chunk) {
    AppendJsonString(event.text, out);
  } else if (event.type == Event::Type::kChunk) {
    nlohmann::json data = EventToJson(event);
    data.erase("event");
    out += DumpJson(data);
  } else {
    out += DumpJson(EventData(event));
  }
  out += "\n\n";
}

std::string FormatSseEvent(const Event& event, uint64_t id, ChunkForm chunks) {
  std::string out;
  AppendSseEvent(event, id, out, chunks);
  return out;
}

std::string SseHeartbeat() { return ": ping\n\n"; }

}  // namespace flowrun
