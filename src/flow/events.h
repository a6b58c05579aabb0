// Events a run emits, in order: step:before / chunk* / step:after per step,
// error when a step fails, and done, always last. Plain values;
// thread-compatible. EventName/EventData/EventToJson are thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace flowrun {

struct Event {
  enum class Type { kStepBefore, kStepAfter, kChunk, kError, kDone };

  Type type = Type::kDone;
  std::string step;       // step id (empty for done, or an error outside any step)
  std::string step_type;  // step:before / step:after
  int index = -1;         // step position, 0-based
  std::string text;       // chunk text, or the error message
  double duration_ms = 0;  // step:after
  bool ok = true;          // done: whether the run finished without error
};

// "step:before", "step:after", "chunk", "error", "done".
const char* EventName(Event::Type type);

// The event's payload: a chunk's text as a JSON string; {"error", "step"}
// for an error; step details for step events; null for done.
nlohmann::json EventData(const Event& event);

// One self-describing object, as `flowrun run --events` prints it.
nlohmann::json EventToJson(const Event& event);

}  // namespace flowrun
