// StreamSession: one flow run streamed to one client as SSE, on the run's
// loop. Batches a burst of chunks into one write, holds chunks while the
// client lags (the writer's backlog pauses the model meanwhile), sends
// heartbeats while the model is quiet (a timer), and reports how the stream
// went. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "flow/flow.h"
#include "flow/flow_library.h"
#include "server/http_types.h"
#include "steps/step.h"

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
  std::shared_ptr<const FlowLibrary> library;  // the flows `call` steps may run
};

// Runs `flow` on `input` on `run.loop`, writing events to `run.writer`.
// Cancelling `run.scope` (the client went, the server shuts down) ends the
// run with its error and done events.
Task<StreamOutcome> StreamFlow(const Flow& flow, nlohmann::json input, StreamSettings settings, StreamRun run);

}  // namespace flowrun
