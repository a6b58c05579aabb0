// StreamSession: one flow run streamed to one client as SSE. Sends
// heartbeats while the model is quiet, notices a client that has gone,
// and reports how the stream went. Used on one worker thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cancellation.h"
#include "flow/flow.h"
#include "server/http_types.h"

namespace flowrun {

struct StreamOutcome {
  bool ok = false;
  bool client_gone = false;
  std::string gone_reason;
  std::string error;  // the error event's message, if any
  std::string error_step;
  uint64_t chunks = 0;
  double first_chunk_ms = -1;  // -1: no chunk was sent
  double duration_ms = 0;
  RunCounters counters;
  // The final state's value under the output key of the last step that
  // streamed chunks to the client (null when no step did).
  nlohmann::json reply;
};

struct StreamSettings {
  bool all_events = false;                     // also step:before / step:after
  std::chrono::milliseconds heartbeat{15000};  // ": ping" after this long without a write
};

// Runs `flow` on `input`, writing events to `writer`. `cancel` may be
// cancelled from another thread (server shutdown).
StreamOutcome StreamFlow(const Flow& flow, const nlohmann::json& input, const StreamSettings& settings,
                         StreamWriter& writer, Cancellation& cancel);

}  // namespace flowrun
