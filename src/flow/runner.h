// The runner: executes a flow's steps in order over a fresh per-run state
// and reports progress as events. Thread-safe: runs share only the
// immutable Flow.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cancellation.h"
#include "flow/events.h"
#include "flow/flow.h"

namespace flowrun {

// Receives every event in order. Returns false when the consumer has gone;
// the run is then cancelled (its model transfer aborted) and ends quickly.
using EventSink = std::function<bool(const Event& event)>;

struct RunResult {
  bool ok = false;
  std::string error;      // the failing step's message
  std::string error_step;
  nlohmann::json state;   // the final state
  RunCounters counters;
};

// `input` must already be validated by flow.input. `done` is always the last
// event, also after an error or cancellation.
RunResult RunFlow(const Flow& flow, const nlohmann::json& input, const EventSink& sink,
                  Cancellation& cancel);

}  // namespace flowrun
