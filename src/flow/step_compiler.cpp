// The `steps:` list and the blocks nested in control steps: ids, paths,
// step types, parameters, templates; the nesting and step-count limits.
#include <algorithm>

#include "config/flow_file_limits.h"
#include "flow/compile_context.h"
#include "flow/value_template.h"

namespace flowrun {
namespace {

bool ParamTypeMatches(ParamType type, const ConfigNode& node) {
  switch (type) {
    case ParamType::kString:
    case ParamType::kTemplate:
      return node.IsString();
    case ParamType::kNumber:
      return node.IsScalar() && node.scalar.is_number();
    case ParamType::kInteger:
      return node.IsScalar() && node.scalar.is_number_integer();
    case ParamType::kBoolean:
      return node.IsScalar() && node.scalar.is_boolean();
    case ParamType::kExpression:
      return node.IsScalar();
    case ParamType::kSteps:
    case ParamType::kMessages:
      return node.IsSequence();
    case ParamType::kStepMap:
    case ParamType::kValues:
    case ParamType::kSchema:
      return node.IsMapping();
    case ParamType::kTemplateList:
    case ParamType::kTools:
    case ParamType::kMockTurns:
      return node.IsSequence();
    case ParamType::kMockTurn:
      return node.IsString() || node.IsMapping();
    case ParamType::kIntegerList:
      return node.IsSequence() && std::all_of(node.items.begin(), node.items.end(), [](const ConfigNode& item) {
               return item.IsScalar() && item.scalar.is_number_integer();
             });
  }
  return false;
}

std::string Article(ParamType type) {
  return type == ParamType::kInteger || type == ParamType::kExpression ? "an " : "a ";
}

std::string TypeDescription(ParamType type) {
  switch (type) {
    case ParamType::kSteps:
      return "a list of steps";
    case ParamType::kStepMap:
      return "a mapping of names to lists of steps";
    case ParamType::kValues:
      return "a mapping of names to values";
    case ParamType::kMessages:
      return "a list of {role, content}";
    case ParamType::kIntegerList:
      return "a list of whole numbers";
    case ParamType::kSchema:
      return "a JSON Schema (a mapping)";
    case ParamType::kTools:
      return "a list of tools";
    case ParamType::kMockTurn:
      return "a template or a mapping of text, json, tool_calls, reasoning";
    case ParamType::kMockTurns:
      return "a list of mock answers";
    default:
      return Article(type) + ParamTypeName(type);
  }
}

// [A-Za-z0-9_.-]+: an id is one segment of a step's path.
bool IsValidId(const std::string& id) {
  if (id.empty()) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// FlowStep::direct: a control step that decides or writes at once, with no
// policy that waits (timeout_ms, retry) or runs steps (on_error), whose
// nested steps are all direct too.
bool NeverWaits(const FlowStep& step) {
  if (!step.IsControl() || step.policy.timeout_ms > 0 || step.policy.max_attempts > 1 ||
      step.policy.on_error == StepPolicy::OnError::kSteps) {
    return false;
  }
  switch (step.control->kind) {
    case ControlKind::kSet:
    case ControlKind::kIf:
    case ControlKind::kSwitch:
    case ControlKind::kFail:
      break;
    default:
      return false;
  }
  for (const FlowBlock& block : step.blocks) {
    for (const FlowStep& inner : block.steps) {
      if (!inner.direct) return false;
    }
  }
  return true;
}

void AddUnique(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
}

}  // namespace

SourceLocation OffsetLocation(const ConfigNode& node, const std::string& text, size_t offset, int length) {
  if (text.find('\n') != std::string::npos || node.where.line == 0) return node.where;
  return {node.where.line, node.where.column + static_cast<int>(offset) + (node.quoted ? 1 : 0), length};
}

void StepCompiler::CompileAll(const ConfigNode& steps) {
  if (!steps.IsSequence()) {
    context_.ErrorAt(steps.where, "'steps' must be a list of steps, got " + steps.TypeName());
    return;
  }
  if (steps.items.empty()) {
    context_.ErrorAt(steps.where, "'steps' is empty; a flow needs at least one step");
    return;
  }
  written_ = {"input", "history"};
  CollectWrites(steps, 1);
  if (step_count_ > kMaxFlowSteps) {
    context_.ErrorAt(steps.where, "the flow has " + std::to_string(step_count_) + " steps, more than " +
                                      std::to_string(kMaxFlowSteps) + kFlowFileLimitSuffix);
    return;
  }
  BlockScope top;
  top.roots = written_;
  flow_.steps = CompileBlock(steps, top, "'steps'");
}

// What every step of the flow writes (the names templates may read), and
// how many steps there are, nested ones included. Bounded: the YAML depth
// limit caps the recursion.
void StepCompiler::CollectWrites(const ConfigNode& steps, int depth) {
  if (!steps.IsSequence() || depth > kMaxStepNesting) return;
  for (const auto& item : steps.items) {
    ++step_count_;
    const ConfigNode* type = item.Find("type");
    if (type == nullptr || !type->IsString()) continue;
    const StepType* step_type = context_.registry.Find(type->scalar.get<std::string>());
    if (step_type == nullptr) continue;
    if (step_type->name == "set") {
      if (const ConfigNode* values = item.Find("values"); values != nullptr && values->IsMapping()) {
        for (const auto& [key, value] : values->entries) AddUnique(written_, key);
      }
    }
    for (const auto& param : step_type->params) {
      const ConfigNode* node = item.Find(param.name);
      if (IsOutputParam(param.name)) {
        if (node != nullptr && node->IsString()) {
          AddUnique(written_, node->scalar.get<std::string>());
        } else if (node == nullptr && param.default_value.is_string()) {
          AddUnique(written_, param.default_value.get<std::string>());
        }
      }
      if (node == nullptr) continue;
      if (param.type == ParamType::kSteps) CollectWrites(*node, depth + 1);
      if (param.type == ParamType::kStepMap && node->IsMapping()) {
        for (const auto& [name, block] : node->entries) CollectWrites(block, depth + 1);
      }
    }
    if (const ConfigNode* fallback = item.Find("on_error")) CollectWrites(*fallback, depth + 1);
  }
}

std::vector<FlowStep> StepCompiler::CompileBlock(const ConfigNode& list, const BlockScope& scope,
                                                 const std::string& what) {
  std::vector<FlowStep> steps;
  if (!list.IsSequence()) {
    context_.ErrorAt(list.where, what + " must be a list of steps, got " + list.TypeName());
    return steps;
  }
  if (list.items.empty()) {
    context_.ErrorAt(list.where, what + " is empty; a block needs at least one step");
    return steps;
  }
  if (scope.depth > kMaxStepNesting) {
    context_.ErrorAt(list.items.front().where, "steps are nested more than " + std::to_string(kMaxStepNesting) +
                                                   " levels deep" + kFlowFileLimitSuffix);
    return steps;
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < list.items.size(); ++i) {
    std::optional<FlowStep> step = CompileStep(list.items[i], i, scope, ids);
    if (step) steps.push_back(std::move(*step));
  }
  return steps;
}

std::optional<FlowStep> StepCompiler::CompileStep(const ConfigNode& item, size_t index, const BlockScope& scope,
                                                  std::set<std::string>& ids) {
  if (!item.IsMapping()) {
    context_.ErrorAt(item.where, "a step must be a mapping with a 'type', got " + item.TypeName());
    return std::nullopt;
  }
  StepConfig config;
  config.id = "step" + std::to_string(index + 1);
  SourceLocation id_where = item.where;
  if (const ConfigNode* id = item.Find("id")) {
    if (!id->IsString()) {
      context_.ErrorAt(id->where, "step 'id' must be a string, got " + id->TypeName());
    } else {
      config.id = id->scalar.get<std::string>();
      id_where = id->where;
      if (!IsValidId(config.id)) {
        context_.ErrorAt(id->where, "step id '" + config.id + "' may only hold letters, digits, '.', '_' and '-'");
      }
    }
  }
  if (!ids.insert(config.id).second) context_.ErrorAt(id_where, "duplicate step id '" + config.id + "'");
  const ConfigNode* type = item.Find("type");
  if (type == nullptr) {
    context_.ErrorAt(item.where, "step '" + config.id + "' has no 'type'");
    return std::nullopt;
  }
  if (!type->IsString()) {
    context_.ErrorAt(type->where, "step 'type' must be a string, got " + type->TypeName());
    return std::nullopt;
  }
  config.type = type->scalar.get<std::string>();
  const StepType* step_type = context_.registry.Find(config.type);
  if (step_type == nullptr) {
    context_.ErrorAt(type->where, "unknown step type '" + config.type + "'" +
                                      DidYouMean(config.type, context_.registry.Names()));
    return std::nullopt;
  }
  FlowStep step;
  step.id = config.id;
  step.type = config.type;
  step.path = scope.path.empty() ? config.id : scope.path + "/" + config.id;
  step.index = static_cast<int>(index);
  step.where = type->where;
  const size_t errors_before = context_.diagnostics.size();
  const bool params_ok = CompileParams(item, *step_type, scope, config);
  CompilePolicy(item, scope, step);
  if (!params_ok) return std::nullopt;
  if (step_type->control) {
    if (!CompileControl(item, config, scope, step)) return std::nullopt;
  } else {
    Status error;
    step.step = step_type->factory(config, context_.environment, &error);
    if (step.step == nullptr) {
      // A message that starts by quoting one of the step's keys ("'url' must ...") points at that key's value.
      const ConfigNode* at = type;
      const std::string& message = error.message();
      if (message.size() > 2 && message[0] == '\'') {
        if (const ConfigNode* named = item.Find(message.substr(1, message.find('\'', 1) - 1))) at = named;
      }
      context_.ErrorAt(at->where, error.ok() ? "cannot build step '" + config.id + "'" : message);
      return std::nullopt;
    }
  }
  if (step.policy.on_error == StepPolicy::OnError::kSteps) {
    AddBlock(*item.Find("on_error"), "on_error", scope, step, {"error"});
    step.policy.fallback_block = static_cast<int>(step.blocks.size()) - 1;
  }
  if (context_.diagnostics.size() != errors_before) return std::nullopt;
  step.direct = NeverWaits(step);
  return step;
}

bool StepCompiler::CompileParams(const ConfigNode& item, const StepType& step_type, const BlockScope& scope,
                                 StepConfig& config, const std::string& what) {
  const size_t errors_before = context_.diagnostics.size();
  std::vector<std::string> keys;
  if (what.empty()) {
    keys.push_back("type");
    for (const auto& param : CommonStepParams()) keys.push_back(param.name);
  }
  for (const auto& param : step_type.params) keys.push_back(param.name);
  context_.CheckKeys(item, keys, what.empty() ? "step '" + config.id + "' (" + step_type.name + ")" : what);
  for (const auto& param : step_type.params) {
    const ConfigNode* node = item.Find(param.name);
    if (node == nullptr) {
      if (param.required) {
        context_.ErrorAt(item.where, (what.empty() ? "step '" + config.id + "' (" + step_type.name + ")" : what) +
                                         " is missing required key '" + param.name + "'");
      } else if (!param.default_value.is_null()) {
        config.params[param.name] = param.default_value;
      }
      continue;
    }
    if (!ParamTypeMatches(param.type, *node)) {
      context_.ErrorAt(node->where,
                       "'" + param.name + "' must be " + TypeDescription(param.type) + ", got " + node->TypeName());
      continue;
    }
    if (node->IsScalar()) config.params[param.name] = node->scalar;
    if (!param.allowed.empty()) CheckAllowed(param, *node);
    if (param.type == ParamType::kTemplate && !step_type.control) {
      if (auto compiled = CompileTemplate(param.name, *node, scope)) config.templates.emplace(param.name, *compiled);
    }
    if (param.type == ParamType::kMessages) CompileMessages(*node, scope, config);
    if (param.type == ParamType::kTemplateList) CompileTemplateList(param.name, *node, scope, config);
    if (param.type == ParamType::kIntegerList) config.params[param.name] = node->ToJson();
    if (param.type == ParamType::kValues && !step_type.control) CompileValues(param.name, *node, scope, config);
    if (param.type == ParamType::kSchema) CompileSchemaParam(param.name, *node, config);
    if (param.type == ParamType::kTools) CompileTools(*node, scope, config);
    if (param.type == ParamType::kMockTurn) CompileMockTurn(param.name, *node, scope, config, nullptr);
    if (param.type == ParamType::kMockTurns) {
      config.params[param.name] = node->ToJson();
      if (node->items.empty()) context_.ErrorAt(node->where, "'" + param.name + "' is empty; give at least one answer");
      std::vector<std::shared_ptr<const StepValue>> turns;
      for (const ConfigNode& turn : node->items) CompileMockTurn(param.name, turn, scope, config, &turns);
      config.value_lists.emplace(param.name, std::move(turns));
    }
  }
  return context_.diagnostics.size() == errors_before;
}

namespace {

class CompiledValue final : public StepValue {
 public:
  explicit CompiledValue(ValueTemplate value) : value_(std::move(value)) {}
  Status Evaluate(const nlohmann::json& state, nlohmann::json* out) const override {
    return value_.Evaluate(state, out);
  }

 private:
  ValueTemplate value_;
};

}  // namespace

std::shared_ptr<const StepValue> StepCompiler::CompileValue(const std::string& name, const ConfigNode& node,
                                                            const BlockScope& scope) {
  ValueTemplate::CompileString compile = [this, &scope, &name](const ConfigNode& string_node) {
    return CompileTemplate(name, string_node, scope);
  };
  if (auto compiled = ValueTemplate::Compile(node, compile)) return std::make_shared<CompiledValue>(std::move(*compiled));
  return nullptr;
}

// A leaf step's mapping of values (the http step's json, headers, query):
// as written into params, compiled into config.values.
void StepCompiler::CompileValues(const std::string& name, const ConfigNode& node, const BlockScope& scope,
                                 StepConfig& config) {
  config.params[name] = node.ToJson();
  if (auto compiled = CompileValue(name, node, scope)) config.values.emplace(name, std::move(compiled));
}

void StepCompiler::CheckAllowed(const ParamSpec& param, const ConfigNode& node) {
  const std::string value = node.scalar.get<std::string>();
  if (std::find(param.allowed.begin(), param.allowed.end(), value) != param.allowed.end()) return;
  std::string list;
  for (const auto& allowed : param.allowed) list += (list.empty() ? "" : ", ") + allowed;
  std::string hint = DidYouMean(value, param.allowed);
  context_.ErrorAt(node.where, "'" + param.name + "' must be one of " + list + ", got '" + value + "'" + hint);
}

// `messages: [{role, content}, ...]`: roles checked, contents compiled as
// templates "messages[i]"; the roles go to params["messages"].
void StepCompiler::CompileMessages(const ConfigNode& node, const BlockScope& scope, StepConfig& config) {
  static const std::vector<std::string> kRoles = {"system", "user", "assistant"};
  nlohmann::json roles = nlohmann::json::array();
  for (size_t i = 0; i < node.items.size(); ++i) {
    const ConfigNode& message = node.items[i];
    const std::string what = "messages[" + std::to_string(i) + "]";
    if (!message.IsMapping()) {
      context_.ErrorAt(message.where, "'" + what + "' must be a mapping like {role: user, content: \"...\"}, got " +
                                          message.TypeName());
      continue;
    }
    context_.CheckKeys(message, {"role", "content"}, "'" + what + "'");
    const ConfigNode* role = message.Find("role");
    const ConfigNode* content = message.Find("content");
    if (role == nullptr || content == nullptr) {
      context_.ErrorAt(message.where, "'" + what + "' needs a 'role' and a 'content'");
      continue;
    }
    const std::string role_text = role->IsString() ? role->scalar.get<std::string>() : "";
    if (std::find(kRoles.begin(), kRoles.end(), role_text) == kRoles.end()) {
      context_.ErrorAt(role->where, "'role' must be one of system, user, assistant, got " +
                                        (role->IsString() ? "'" + role_text + "'" : role->TypeName()) +
                                        DidYouMean(role_text, kRoles));
      continue;
    }
    if (!content->IsString()) {
      context_.ErrorAt(content->where, "'content' must be a template, got " + content->TypeName());
      continue;
    }
    roles.push_back(role_text);
    if (auto compiled = CompileTemplate("content", *content, scope)) config.templates.emplace(what, *compiled);
  }
  config.params["messages"] = roles;
}

// A non-empty list of templates (llm-stream's mock_replies), in order.
void StepCompiler::CompileTemplateList(const std::string& name, const ConfigNode& list, const BlockScope& scope,
                                       StepConfig& config) {
  if (list.items.empty()) {
    context_.ErrorAt(list.where, "'" + name + "' is empty; give at least one template");
    return;
  }
  std::vector<Template> templates;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const ConfigNode& item = list.items[i];
    if (!item.IsString()) {
      context_.ErrorAt(item.where, "'" + name + "' item " + std::to_string(i + 1) + " must be a string, got " +
                                       item.TypeName());
      continue;
    }
    if (auto compiled = CompileTemplate(name, item, scope)) templates.push_back(std::move(*compiled));
  }
  config.template_lists.emplace(name, std::move(templates));
}

void CompileSteps(const ConfigNode& steps, const CompileContext& context, Flow& flow) {
  StepCompiler(context, flow).CompileAll(steps);
}

}  // namespace flowrun
