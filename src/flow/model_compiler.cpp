// The parts of llm-stream's configuration that are more than values:
// `output_schema` (and each tool's `parameters`), a JSON Schema checked when
// the flow loads; `tools:`, each an http request (compiled with the http
// step's parameters, the model's arguments readable as `args`) or a flow to
// call; and the mock provider's scripted answers (`mock_reply`,
// `mock_replies`). Compile-time only (one thread).
#include <algorithm>

#include "flow/compile_context.h"
#include "steps/http_request.h"

namespace flowrun {
namespace {

// The node a schema problem's location names, as far as it goes.
const ConfigNode& NodeAt(const ConfigNode& root, const std::vector<JsonPathElement>& location) {
  const ConfigNode* at = &root;
  for (const auto& step : location) {
    const ConfigNode* next = nullptr;
    if (const auto* key = std::get_if<std::string>(&step)) {
      next = at->IsMapping() ? at->Find(*key) : nullptr;
    } else {
      const size_t index = std::get<size_t>(step);
      next = at->IsSequence() && index < at->items.size() ? &at->items[index] : nullptr;
    }
    if (next == nullptr) break;
    at = next;
  }
  return *at;
}

// OpenAI's rule for function and schema names.
bool IsToolName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

const nlohmann::json& EmptyObjectSchema() {
  static const nlohmann::json schema = {{"type", "object"}, {"properties", nlohmann::json::object()}};
  return schema;
}

}  // namespace

std::shared_ptr<const CompiledSchema> StepCompiler::CompileSchema(const std::string& name, const ConfigNode& node) {
  SchemaCompileResult compiled = CompileJsonSchema(node.ToJson());
  for (const SchemaProblem& problem : compiled.problems) {
    context_.ErrorAt(NodeAt(node, problem.location).where,
                     "'" + name + "' is not a valid JSON Schema: " + FormatSchemaProblem(problem));
  }
  return compiled.schema;
}

void StepCompiler::CompileSchemaParam(const std::string& name, const ConfigNode& node, StepConfig& config) {
  config.params[name] = node.ToJson();
  if (auto schema = CompileSchema(name, node)) config.schemas.emplace(name, std::move(schema));
}

void StepCompiler::CompileTools(const ConfigNode& list, const BlockScope& scope, StepConfig& config) {
  if (list.items.empty()) {
    context_.ErrorAt(list.where, "'tools' is empty; give at least one tool, or leave 'tools' out");
    return;
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < list.items.size(); ++i) {
    std::optional<ToolConfig> tool = CompileTool(list.items[i], i, scope, config);
    if (!tool) continue;
    if (std::find(names.begin(), names.end(), tool->name) != names.end()) {
      context_.ErrorAt(list.items[i].Find("name")->where, "duplicate tool name '" + tool->name + "'");
      continue;
    }
    names.push_back(tool->name);
    config.tools.push_back(std::move(*tool));
  }
  config.params["tools"] = names;
}

std::optional<ToolConfig> StepCompiler::CompileTool(const ConfigNode& item, size_t index, const BlockScope& scope,
                                                    const StepConfig& step) {
  const std::string what = "tools[" + std::to_string(index) + "]";
  if (!item.IsMapping()) {
    context_.ErrorAt(item.where, "'" + what + "' must be a mapping with a name, a description, parameters and "
                                 "http or flow, got " + item.TypeName());
    return std::nullopt;
  }
  const size_t errors_before = context_.diagnostics.size();
  context_.CheckKeys(item, {"name", "description", "parameters", "http", "flow", "output_from"}, "'" + what + "'");
  ToolConfig tool;
  const ConfigNode* name = item.Find("name");
  if (name == nullptr || !name->IsString()) {
    context_.ErrorAt(name != nullptr ? name->where : item.where, "'" + what + "' needs a 'name' (text)");
  } else {
    tool.name = name->scalar.get<std::string>();
    if (!IsToolName(tool.name)) {
      context_.ErrorAt(name->where, "tool name '" + tool.name +
                                        "' may only hold letters, digits, '_' and '-' (at most 64)");
    }
  }
  if (const ConfigNode* description = item.Find("description")) {
    if (description->IsString()) {
      tool.description = description->scalar.get<std::string>();
    } else {
      context_.ErrorAt(description->where, "'description' must be text, got " + description->TypeName());
    }
  }
  tool.parameters = EmptyObjectSchema();
  if (const ConfigNode* parameters = item.Find("parameters")) {
    if (!parameters->IsMapping()) {
      context_.ErrorAt(parameters->where, "'parameters' must be a JSON Schema (a mapping), got " + parameters->TypeName());
    } else {
      tool.parameters = parameters->ToJson();
      tool.schema = CompileSchema("parameters", *parameters);
    }
  } else {
    tool.schema = CompileJsonSchema(tool.parameters).schema;
  }
  const ConfigNode* http = item.Find("http");
  const ConfigNode* flow = item.Find("flow");
  if ((http == nullptr) == (flow == nullptr)) {
    context_.ErrorAt(item.where, "tool '" + tool.name + "' needs one of 'http' (a request) or 'flow' (a flow's name)");
  } else if (http != nullptr) {
    const StepType* http_type = context_.registry.Find("http");
    if (!http->IsMapping() || http_type == nullptr) {
      context_.ErrorAt(http->where, "'http' must be a mapping like an http step's (url, method, query, json, ...), "
                                    "got " + http->TypeName());
    } else {
      auto config = std::make_shared<StepConfig>();
      config->id = step.id;
      config->type = "http";
      BlockScope tool_scope = scope;
      tool_scope.roots.push_back("args");
      CompileParams(*http, *http_type, tool_scope, *config, "tool '" + tool.name + "' http");
      // The model's arguments must never choose where flowrun connects.
      std::string origin;
      const ConfigNode* url = http->Find("url");
      if (url != nullptr && url->IsString()) {
        if (Status literal = LiteralOrigin(url->scalar.get<std::string>(), &origin); !literal.ok()) {
          context_.ErrorAt(url->where, "tool '" + tool.name + "': " + literal.message());
        }
      }
      tool.http = std::move(config);
    }
  } else if (!flow->IsString()) {
    context_.ErrorAt(flow->where, "'flow' must be a flow's name, got " + flow->TypeName());
  } else {
    tool.flow = flow->scalar.get<std::string>();
    // Checked against the flows beside this one once they are loaded (CheckCalls).
    flow_.calls.push_back({step.id, tool.flow, flow->where, context_.diagnostics.LineText(flow->where.line), true});
  }
  if (const ConfigNode* output_from = item.Find("output_from")) {
    if (flow == nullptr || !output_from->IsString()) {
      context_.ErrorAt(output_from->where, "'output_from' is for a flow tool: the key of its state to return");
    } else {
      tool.output_from = output_from->scalar.get<std::string>();
    }
  }
  if (context_.diagnostics.size() != errors_before) return std::nullopt;
  return tool;
}

// A scripted answer: text (a template), or a mapping of text, json (a value
// sent as JSON text), tool_calls ([{name, arguments, id}]) and reasoning.
void StepCompiler::CompileMockTurn(const std::string& name, const ConfigNode& node, const BlockScope& scope,
                                   StepConfig& config, std::vector<std::shared_ptr<const StepValue>>* list) {
  if (list == nullptr) config.params[name] = node.ToJson();
  if (!node.IsString() && !node.IsMapping()) {
    context_.ErrorAt(node.where, "a mock answer in '" + name + "' must be a template or a mapping of text, json, "
                                 "tool_calls, reasoning; got " + node.TypeName());
    return;
  }
  const size_t errors_before = context_.diagnostics.size();
  if (node.IsMapping()) {
    context_.CheckKeys(node, {"text", "json", "tool_calls", "reasoning"}, "a mock answer");
    if (node.Find("text") != nullptr && node.Find("json") != nullptr) {
      context_.ErrorAt(node.where, "a mock answer has either 'text' or 'json', not both");
    }
    if (const ConfigNode* calls = node.Find("tool_calls")) {
      if (!calls->IsSequence() || calls->items.empty()) {
        context_.ErrorAt(calls->where, "'tool_calls' must be a list of {name, arguments}");
      } else {
        for (const ConfigNode& call : calls->items) {
          if (!call.IsMapping()) {
            context_.ErrorAt(call.where, "a scripted tool call must be a mapping {name, arguments, id}");
            continue;
          }
          context_.CheckKeys(call, {"name", "arguments", "id"}, "a scripted tool call");
          const ConfigNode* call_name = call.Find("name");
          if (call_name == nullptr || !call_name->IsString()) {
            context_.ErrorAt(call.where, "a scripted tool call needs a 'name'");
          }
        }
      }
    }
  }
  if (context_.diagnostics.size() != errors_before) return;
  std::shared_ptr<const StepValue> value = CompileValue(name, node, scope);
  if (value == nullptr) return;
  if (list != nullptr) {
    list->push_back(std::move(value));
  } else {
    config.values.emplace(name, std::move(value));
  }
}

}  // namespace flowrun
