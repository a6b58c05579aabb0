// Tool calls of llm-stream (model_tools.h).
#include "steps/model_tools.h"

#include <chrono>

#include "core/json_text.h"
#include "core/when_all.h"
#include "llm/openai_wire.h"
#include "steps/http_request.h"

namespace flowrun {
namespace {

constexpr size_t kMaxErrorsShown = 5;
constexpr int kMaxArgumentNesting = 64;

nlohmann::json ParseArguments(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  if (!NestingWithin(text, kMaxArgumentNesting)) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

const ModelTool* FindTool(const std::vector<ModelTool>& tools, const std::string& name) {
  for (const ModelTool& tool : tools) {
    if (tool.config.name == name) return &tool;
  }
  return nullptr;
}

std::string ToolNames(const std::vector<ModelTool>& tools) {
  std::string names;
  for (const ModelTool& tool : tools) names += (names.empty() ? "" : ", ") + tool.config.name;
  return names;
}

// The model's arguments, parsed and checked against the tool's parameters;
// an error message otherwise.
bool CheckArguments(const ModelTool& tool, const std::string& text, const nlohmann::json& parsed, std::string* error) {
  const nlohmann::json* args = &parsed;
  if (args->is_discarded()) {
    *error = "the arguments are not valid JSON (or nest deeper than 64 levels): " + Abbreviate(text, 200);
    return false;
  }
  if (tool.config.schema == nullptr) return true;
  std::vector<SchemaViolation> violations = Validate(*tool.config.schema, *args, kMaxErrorsShown);
  if (violations.empty()) return true;
  *error = "the arguments do not match the tool's parameters:";
  for (const SchemaViolation& violation : violations) *error += " " + FormatViolation(violation) + ";";
  error->pop_back();
  return false;
}

Task<ToolOutcome> RunOne(const std::vector<ModelTool>& tools, const ToolCall& call, nlohmann::json args,
                         StepContext& context) {
  const auto started = std::chrono::steady_clock::now();
  ToolOutcome outcome;
  outcome.arguments = args.is_discarded() ? nlohmann::json(call.arguments) : args;
  const ModelTool* tool = FindTool(tools, call.name);
  if (tool == nullptr) {
    outcome.error = "there is no tool named '" + call.name + "'; the tools are: " + ToolNames(tools);
  } else if (CheckArguments(*tool, call.arguments, args, &outcome.error)) {
    if (tool->http != nullptr) {
      // The request's templates read the run's state and the arguments as `args`.
      nlohmann::json state = context.state;
      state["args"] = args;
      nlohmann::json response;
      Status sent = co_await tool->http->Send(state, *context.loop, *context.scope, &response);
      if (sent.ok()) {
        outcome.ok = true;
        outcome.result = response.is_object() ? response["body"] : nlohmann::json();
      } else {
        outcome.error = sent.message();
      }
    } else if (!context.call_flow) {
      outcome.error = "flow tools need a run that can call flows";
    } else {
      nlohmann::json state;
      Status called = co_await context.call_flow(tool->config.flow, args, &state);
      auto found = state.is_object() ? state.find(tool->config.output_from) : state.end();
      if (!called.ok()) {
        outcome.error = called.message();
      } else if (found == state.end()) {
        outcome.error = "flow '" + tool->config.flow + "' left no '" + tool->config.output_from + "' in its state";
      } else {
        outcome.ok = true;
        outcome.result = std::move(*found);
      }
    }
  }
  if (outcome.ok) {
    outcome.content = outcome.result.is_string() ? outcome.result.get<std::string>() : DumpJson(outcome.result);
  } else {
    outcome.content = DumpJson(nlohmann::json{{"error", outcome.error}});
  }
  outcome.duration_ms = MillisecondsSince(started);
  if (context.note) {
    nlohmann::json detail = {{"id", call.id}, {"name", call.name}};
    if (outcome.ok) {
      detail["result"] = outcome.result;
    } else {
      detail["error"] = outcome.error;
    }
    detail["duration_ms"] = outcome.duration_ms;
    context.note(StepNote::kToolResult, detail);
  }
  co_return outcome;
}

}  // namespace

std::shared_ptr<const std::vector<ModelTool>> BuildModelTools(const std::vector<ToolConfig>& configs,
                                                               const StepEnvironment& environment, Status* error) {
  auto tools = std::make_shared<std::vector<ModelTool>>();
  for (const ToolConfig& config : configs) {
    ModelTool tool{config, nullptr};
    if (config.http != nullptr) {
      Status why;
      tool.http = HttpRequester::Make(*config.http, environment, &why);
      if (tool.http == nullptr) {
        *error = Status::InvalidArgument("'tools': tool '" + config.name + "': " + why.message());
        return nullptr;
      }
    }
    tools->push_back(std::move(tool));
  }
  return tools;
}

std::vector<ToolSpec> ToolSpecs(const std::vector<ModelTool>& tools) {
  std::vector<ToolSpec> specs;
  for (const ModelTool& tool : tools) specs.push_back({tool.config.name, tool.config.description, tool.config.parameters});
  return specs;
}

Task<std::vector<ToolOutcome>> RunToolCalls(const std::vector<ModelTool>& tools, const std::vector<ToolCall>& calls,
                                            StepContext& context) {
  // Each call's arguments are parsed once: for its tool_call event, its check and its record.
  std::vector<nlohmann::json> parsed;
  for (const ToolCall& call : calls) parsed.push_back(ParseArguments(call.arguments));
  if (context.note) {
    for (size_t i = 0; i < calls.size(); ++i) {
      const nlohmann::json shown = parsed[i].is_discarded() ? nlohmann::json(calls[i].arguments) : parsed[i];
      context.note(StepNote::kToolCall, {{"id", calls[i].id}, {"name", calls[i].name}, {"arguments", shown}});
    }
  }
  WhenAll<ToolOutcome>::Factory make = [&tools, &calls, &parsed, &context](size_t index) {
    return RunOne(tools, calls[index], std::move(parsed[index]), context);
  };
  WhenAll<ToolOutcome> all(calls.size(), 0, std::move(make));
  std::vector<ToolOutcome> outcomes = co_await all;
  co_return outcomes;
}

}  // namespace flowrun
