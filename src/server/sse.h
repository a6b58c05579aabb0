// Server-Sent Events framing of run events, in one place. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "flow/events.h"

namespace flowrun {

// Appends "event: <type>\nid: <id>\ndata: <json>\n\n" to `out`; done carries
// `data: [DONE]`. Lets a caller batch several events into one write.
void AppendSseEvent(const Event& event, uint64_t id, std::string& out);

// The same framing as a string of its own.
std::string FormatSseEvent(const Event& event, uint64_t id);

// A comment line that keeps idle connections open: ": ping\n\n".
std::string SseHeartbeat();

}  // namespace flowrun
