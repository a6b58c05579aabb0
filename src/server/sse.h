// Server-Sent Events framing of run events, in one place.
#pragma once

#include <cstdint>
#include <string>

#include "flow/events.h"

namespace flowrun {

// "event: <type>\nid: <id>\ndata: <json>\n\n"; done carries `data: [DONE]`.
std::string FormatSseEvent(const Event& event, uint64_t id);

// A comment line that keeps idle connections open: ": ping\n\n".
std::string SseHeartbeat();

}  // namespace flowrun
