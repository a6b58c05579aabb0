// Events a run emits, in order: step:before / chunk* / step:after per step
// (control steps too, around the events of their nested steps), error when
// a step fails and nothing handles it, and done, always last. A model step
// may add reasoning, tool_call and tool_result events between its
// step:before and step:after (only when step events are wanted). Every step
// event carries the step's id and path ("research/branches.summary/draft")
// and, inside a loop or map, the innermost iteration (from 1). Plain
// values; thread-compatible. EventName/EventData/EventToJson are
// thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace flowrun {

struct Event {
  enum class Type { kStepBefore, kStepAfter, kChunk, kError, kDone, kReasoning, kToolCall, kToolResult };

  Type type = Type::kDone;
  std::string step;       // step id (empty for done, or an error outside any step)
  std::string step_type;  // step:before / step:after
  std::string path;       // the step's path: ancestors' ids and block names joined by '/'
  int index = -1;         // step position in its block, 0-based
  int iteration = 0;      // inside a loop or map: the innermost iteration, from 1; 0: none
  std::string text;       // chunk or reasoning text, or the error message
  double duration_ms = 0;  // step:after
  bool ok = true;          // done: whether the run finished without error
  // step:after only:
  std::string branch;          // if: then | else | none; switch: the case key or default
  int iterations = -1;         // loop, map: how many iterations ran (-1: not a loop or map)
  bool limit_reached = false;  // loop: stopped at max_iterations
  bool skipped = false;        // its `if:` did not hold
  std::string handled_error;   // the error its on_error (continue or steps) handled
  int attempts = 1;            // runs of the step (more than 1 after a retry)
  // A model step's token usage (Step::ReportsUsage), 0 where none was
  // reported; on done, the run's total.
  bool has_usage = false;
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  // tool_call: {id, name, arguments}; tool_result: {id, name, result |
  // error, duration_ms}; step:after: the tool calls the step ran (a list),
  // or null.
  nlohmann::json detail;
};

// "step:before", "step:after", "chunk", "error", "done", "reasoning",
// "tool_call", "tool_result".
const char* EventName(Event::Type type);

// The event's payload: a chunk's text as a JSON string; {"error", "step",
// "path"} for an error; step details for step events; {"ok", "usage"} for
// done; {"step", "path", "text"} for reasoning; the detail plus step and
// path for tool events.
nlohmann::json EventData(const Event& event);

// One self-describing object, as `flowrun run --events` and `?events=all`
// show it (chunks too carry their step and path).
nlohmann::json EventToJson(const Event& event);

}  // namespace flowrun
