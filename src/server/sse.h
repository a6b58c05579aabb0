// Server-Sent Events framing of run events, in one place. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "flow/events.h"

namespace flowrun {

// How a chunk's data looks: the JSON string of its text (the default
// stream, which seed clients read), or, with ?events=all, an object with
// its step and path: {"step", "path", "text"} (and "iteration" in a loop or map).
enum class ChunkForm { kText, kObject };

// Appends "event: <type>\nid: <id>\ndata: <json>\n\n" to `out`; done carries
// `data: [DONE]`. Lets a caller batch several events into one write.
void AppendSseEvent(const Event& event, uint64_t id, std::string& out, ChunkForm chunks = ChunkForm::kText);

// The same framing as a string of its own.
std::string FormatSseEvent(const Event& event, uint64_t id, ChunkForm chunks = ChunkForm::kText);

// A comment line that keeps idle connections open: ": ping\n\n".
std::string SseHeartbeat();

}  // namespace flowrun
