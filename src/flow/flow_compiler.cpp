// Top level of a flow file: version, name, endpoint, description, input.
#include "flow/flow_compiler.h"

#include <algorithm>

#include "core/json_text.h"
#include "flow/compile_context.h"
#include "flow/flow_checks.h"
#include "flow/openai_compiler.h"

namespace flowrun {
namespace {

const std::vector<std::string> kTopLevelKeys = {"version", "name", "description", "endpoint", "input", "steps", "openai"};
const std::vector<std::string> kInputFieldKeys = {"type", "required", "default", "max_length", "description"};

bool IsNameChar(char c, bool tilde) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-' || (tilde && c == '~');
}

// [A-Za-z0-9_.-]+ (not std::regex: it recurses per character and overflows
// the stack on a long value).
bool IsValidName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!IsNameChar(c, false)) return false;
  }
  return true;
}

// (/[A-Za-z0-9_.~-]+)+
bool IsValidPath(const std::string& path) {
  if (path.empty() || path.back() == '/') return false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '/') {
      if (i + 1 < path.size() && path[i + 1] == '/') return false;
    } else if (i == 0 || !IsNameChar(path[i], true)) {
      return false;
    }
  }
  return true;
}

const ConfigNode* StringValue(const ConfigNode& parent, const std::string& key,
                              const CompileContext& context) {
  const ConfigNode* node = parent.Find(key);
  if (node != nullptr && !node->IsString()) {
    context.ErrorAt(node->where, "'" + key + "' must be a string, got " + node->TypeName());
    return nullptr;
  }
  return node;
}

void CompileInputField(const std::string& name, const ConfigNode& spec,
                       const CompileContext& context, std::vector<InputField>& fields) {
  InputField field;
  field.name = name;
  // Shorthand: `message: string`.
  const ConfigNode* type_node = spec.IsString() ? &spec : nullptr;
  if (!spec.IsString()) {
    if (!spec.IsMapping()) {
      context.ErrorAt(spec.where, "input '" + name + "' must be a type name or a mapping like {type: string}");
      return;
    }
    context.CheckKeys(spec, kInputFieldKeys, "input '" + name + "'");
    type_node = StringValue(spec, "type", context);
  }
  if (type_node != nullptr) {
    field.type = type_node->scalar.get<std::string>();
    const auto& types = InputTypeNames();
    if (std::find(types.begin(), types.end(), field.type) == types.end()) {
      context.ErrorAt(type_node->where, "unknown input type '" + field.type + "'" + DidYouMean(field.type, types));
      return;
    }
  }
  if (const ConfigNode* required = spec.Find("required")) {
    if (!required->scalar.is_boolean()) {
      context.ErrorAt(required->where, "'required' must be true or false, got " + required->TypeName());
    } else {
      field.required = required->scalar.get<bool>();
    }
  }
  if (const ConfigNode* max_length = spec.Find("max_length")) {
    if (!max_length->scalar.is_number_integer() || max_length->scalar.get<long long>() < 0) {
      context.ErrorAt(max_length->where, "'max_length' must be a whole number of at least 0");
    } else {
      field.max_length = max_length->scalar.get<size_t>();
    }
  }
  if (const ConfigNode* description = StringValue(spec, "description", context)) {
    field.description = description->scalar.get<std::string>();
  }
  if (const ConfigNode* default_value = spec.Find("default")) {
    if (!HasInputType(default_value->ToJson(), field.type)) {
      context.ErrorAt(default_value->where, "default of input '" + name + "' must be of type " +
                                                field.type + ", got " + default_value->TypeName());
    } else {
      field.default_value = default_value->ToJson();
    }
  }
  fields.push_back(std::move(field));
}

void CompileInputs(const ConfigNode& input, const CompileContext& context, Flow& flow) {
  if (!input.IsMapping()) {
    context.ErrorAt(input.where, "'input' must be a mapping of field names to specs, got " + input.TypeName());
    return;
  }
  std::vector<InputField> fields;
  for (const auto& [name, spec] : input.entries) CompileInputField(name, spec, context, fields);
  flow.input = InputSchema(std::move(fields));
}

void CompileHeader(const ConfigNode& root, const CompileContext& context, Flow& flow) {
  const SourceLocation top{1, 1, 1};
  const ConfigNode* version = root.Find("version");
  if (version == nullptr) {
    context.ErrorAt(top, "missing 'version: 1' at the top of the flow");
  } else if (!version->scalar.is_number_integer() || version->scalar.get<long long>() != 1) {
    context.ErrorAt(version->where, "unsupported version '" + DumpJson(version->ToJson()) + "'; this flowrun reads version 1");
  }
  const ConfigNode* name = StringValue(root, "name", context);
  if (name == nullptr && root.Find("name") == nullptr) {
    context.ErrorAt(top, "missing 'name' (used in the default endpoint /flows/<name>)");
  } else if (name != nullptr) {
    flow.name = name->scalar.get<std::string>();
    if (!IsValidName(flow.name)) {
      context.ErrorAt(name->where, "name '" + flow.name + "' may only hold letters, digits, '.', '_' and '-'");
    }
  }
  flow.endpoint = "/flows/" + flow.name;
  if (const ConfigNode* endpoint = StringValue(root, "endpoint", context)) {
    flow.endpoint = endpoint->scalar.get<std::string>();
    if (!IsValidPath(flow.endpoint)) {
      context.ErrorAt(endpoint->where, "endpoint '" + flow.endpoint + "' must be a path like /chat");
    } else if (IsReservedPath(flow.endpoint)) {
      context.ErrorAt(endpoint->where, "endpoint '" + flow.endpoint + "' is reserved by flowrun");
    }
  }
  if (const ConfigNode* description = StringValue(root, "description", context)) {
    flow.description = description->scalar.get<std::string>();
  }
}

}  // namespace

bool IsReservedPath(const std::string& path) {
  return path == "/" || path == "/flows" || path == "/healthz" || path == "/metrics" ||
         path == "/v1/chat/completions" || path == "/v1/models" || path.starts_with("/v1/models/");
}

std::shared_ptr<const Flow> CompileFlow(const ConfigNode& root, const StepRegistry& registry,
                                        const StepEnvironment& environment,
                                        Diagnostics& diagnostics) {
  const size_t errors_before = diagnostics.size();
  CompileContext context{diagnostics, registry, environment};
  if (!root.IsMapping()) {
    context.ErrorAt(root.where, "a flow file must be a mapping with version, name and steps");
    return nullptr;
  }
  auto flow = std::make_shared<Flow>();
  flow->file = diagnostics.file();
  context.CheckKeys(root, kTopLevelKeys, "the flow");
  CompileHeader(root, context, *flow);
  if (const ConfigNode* input = root.Find("input")) CompileInputs(*input, context, *flow);
  if (const ConfigNode* openai = root.Find("openai")) CompileOpenAi(*openai, context, *flow);
  const ConfigNode* steps = root.Find("steps");
  if (steps == nullptr) {
    context.ErrorAt({1, 1, 1}, "missing 'steps' (the list of steps to run)");
  } else {
    CompileSteps(*steps, context, *flow);
    // The whole-flow checks need every step compiled.
    if (diagnostics.size() == errors_before) CheckFlowSteps(*steps, context, *flow);
  }
  if (diagnostics.size() != errors_before) return nullptr;
  flow->graph = std::make_shared<const FlowGraph>(BuildFlowGraph(root));
  return flow;
}

}  // namespace flowrun
