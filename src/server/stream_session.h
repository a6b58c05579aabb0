// StreamSession: one flow run streamed to one client as SSE, on the run's
// loop. Batches a burst of chunks into one write, holds chunks while the
// client lags (the writer's backlog pauses the model meanwhile), sends
// heartbeats while the model is quiet (a timer), and reports how the stream
// went. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "flow/flow.h"
#include "flow/flow_library.h"
#include "flow/runner.h"
#include "server/http_types.h"
#include "steps/step.h"

namespace flowrun {

struct StreamOutcome {
  // The response's status: 200 unless its head waited for the run's end
  // (a /v1 answer with stream: false) and the encoder chose another.
  int status = 200;
  bool head_waited = false;  // the status above was chosen at the end (counted then)
  bool ok = false;
  bool client_gone = false;
  std::string gone_reason;
  std::string error;  // the error event's message, if any
  std::string error_step;
  uint64_t chunks = 0;
  double first_chunk_ms = -1;  // -1: no chunk was sent
  double duration_ms = 0;
  RunCounters counters;
  // Tokens by model step id (RunResult::step_tokens); empty when no model
  // step ran.
  std::map<std::string, RunResult::StepTokens> step_tokens;
  // The final state's value under the output key of the last step that
  // streamed chunks to the client (null when no step did).
  nlohmann::json reply;
};

// Another wire format for a run's stream than flowrun's own events (the
// OpenAI facade's, server/openai_format.h). The session still batches,
// holds chunks for a lagging client and counts; the encoder only says what
// bytes each event becomes. One per stream, used on its loop's thread.
class StreamEncoder {
 public:
  // How the response starts when its head waits for the body
  // (HttpResponse::head_waits): the status and content type it gets.
  struct End {
    int status = 200;
    std::string content_type;
  };
  virtual ~StreamEncoder() = default;
  virtual void Begin(std::string& out) = 0;  // before any event
  virtual void Chunk(std::string_view text, std::string& out) = 0;
  virtual void Error(const Event& event, std::string& out) = 0;
  // After the run (its done event is not passed on): the last bytes.
  virtual End Finish(const RunResult& result, std::string& out) = 0;
  // What a quiet stream gets every heartbeat; empty: nothing.
  virtual std::string Heartbeat() const = 0;
};

struct StreamSettings {
  bool all_events = false;                     // also step:before / step:after
  std::chrono::milliseconds heartbeat{15000};  // ": ping" after this long without a write
  std::shared_ptr<const FlowLibrary> library;  // the flows `call` steps may run
  std::shared_ptr<StreamEncoder> encoder;      // null: flowrun's own SSE events
  ModelOverrides model_overrides;              // for every model step of the run
};

// Runs `flow` on `input` on `run.loop`, writing events to `run.writer`.
// Cancelling `run.scope` (the client went, the server shuts down) ends the
// run with its error and done events.
Task<StreamOutcome> StreamFlow(const Flow& flow, nlohmann::json input, StreamSettings settings, StreamRun run);

}  // namespace flowrun
