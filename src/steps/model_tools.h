// The tools an llm-stream step offers its model, at run time: each call the
// model asks for is checked (a known name, arguments that are JSON and
// follow the tool's `parameters`), then run (its http request, or the flow
// it names), and its result or error becomes the `tool` message sent back.
// A tool's failure is its result, never the step's. Several calls of one
// answer run concurrently on the run's loop. Tools are built once when the
// flow loads and shared read-only by concurrent runs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/task.h"
#include "llm/llm_client.h"
#include "steps/http_requester.h"
#include "steps/step.h"
#include "steps/step_registry.h"

namespace flowrun {

struct ModelTool {
  ToolConfig config;
  std::shared_ptr<const HttpRequester> http;  // null for a flow tool
};

// What one call came to: the text sent back to the model (the result as
// JSON text, or {"error": ...}) and the record for events and step:after.
struct ToolOutcome {
  std::string content;
  bool ok = false;
  nlohmann::json arguments;  // as parsed (the text when it is not JSON), for step:after
  nlohmann::json result;     // ok: the result value
  std::string error;      // !ok: why
  double duration_ms = 0;
};

// The tools of one step, built from its config (nullptr with `error` set).
std::shared_ptr<const std::vector<ModelTool>> BuildModelTools(const std::vector<ToolConfig>& configs,
                                                               const StepEnvironment& environment, Status* error);

// What the model is told the tools are.
std::vector<ToolSpec> ToolSpecs(const std::vector<ModelTool>& tools);

// Runs `calls` (concurrently), sending tool_call / tool_result notes, and
// returns their outcomes in the calls' order.
Task<std::vector<ToolOutcome>> RunToolCalls(const std::vector<ModelTool>& tools, const std::vector<ToolCall>& calls,
                                            StepContext& context);

}  // namespace flowrun
