// Server-Sent Events framing of run events, in one place. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "flow/events.h"

namespace flowrun {

// How chunks and done look: the JSON string of a chunk's text and
// `data: [DONE]` (the default stream, which seed clients read), or, with
// ?events=all, objects: a chunk's {"step", "path", "text"} (and "iteration"
// in a loop or map), and done's {"ok", "usage"}.
enum class ChunkForm { kText, kObject };

// Appends "event: <type>\nid: <id>\ndata: <json>\n\n" to `out`. Lets a
// caller batch several events into one write.
void AppendSseEvent(const Event& event, uint64_t id, std::string& out, ChunkForm chunks = ChunkForm::kText);

// The same framing as a string of its own.
std::string FormatSseEvent(const Event& event, uint64_t id, ChunkForm chunks = ChunkForm::kText);

// A comment line that keeps idle connections open: ": ping\n\n".
std::string SseHeartbeat();

}  // namespace flowrun
