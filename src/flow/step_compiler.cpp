// The `steps:` list: step types, parameters, templates, ids.
#include <optional>
#include <set>

#include "flow/compile_context.h"

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
    case ParamType::kTemplateList:
      return node.IsSequence();
  }
  return false;
}

// Where in the file a template offset lands: exact on one-line scalars,
// the value's start otherwise (block scalars fold lines).
SourceLocation OffsetLocation(const ConfigNode& node, const std::string& text, size_t offset, int length) {
  if (text.find('\n') != std::string::npos || node.where.line == 0) return node.where;
  return {node.where.line, node.where.column + static_cast<int>(offset) + (node.quoted ? 1 : 0), length};
}

class StepCompiler {
 public:
  StepCompiler(const CompileContext& context, Flow& flow) : context_(context), flow_(flow) {}

  void CompileAll(const ConfigNode& steps) {
    if (!steps.IsSequence()) {
      context_.ErrorAt(steps.where, "'steps' must be a list of steps, got " + steps.TypeName());
      return;
    }
    if (steps.items.empty()) {
      context_.ErrorAt(steps.where, "'steps' is empty; a flow needs at least one step");
      return;
    }
    CollectRoots(steps);
    for (size_t i = 0; i < steps.items.size(); ++i) Compile(steps.items[i], i);
  }

 private:
  // Template roots: input, history, and every state key a step writes.
  void CollectRoots(const ConfigNode& steps) {
    roots_ = {"input", "history"};
    for (const auto& item : steps.items) {
      const ConfigNode* type = item.Find("type");
      if (type == nullptr || !type->IsString()) continue;
      const StepType* step_type = context_.registry.Find(type->scalar.get<std::string>());
      if (step_type == nullptr) continue;
      for (const auto& param : step_type->params) {
        if (param.name != "output") continue;
        const ConfigNode* output = item.Find("output");
        roots_.push_back(output != nullptr && output->IsString() ? output->scalar.get<std::string>()
                                                                   : param.default_value.get<std::string>());
      }
    }
  }

  void Compile(const ConfigNode& item, size_t index) {
    if (!item.IsMapping()) {
      context_.ErrorAt(item.where, "a step must be a mapping with a 'type', got " + item.TypeName());
      return;
    }
    StepConfig config;
    config.id = "step" + std::to_string(index + 1);
    if (const ConfigNode* id = item.Find("id")) {
      if (!id->IsString()) {
        context_.ErrorAt(id->where, "step 'id' must be a string, got " + id->TypeName());
      } else {
        config.id = id->scalar.get<std::string>();
        if (!ids_.insert(config.id).second) context_.ErrorAt(id->where, "duplicate step id '" + config.id + "'");
      }
    }
    const ConfigNode* type = item.Find("type");
    if (type == nullptr) {
      context_.ErrorAt(item.where, "step '" + config.id + "' has no 'type'");
      return;
    }
    if (!type->IsString()) {
      context_.ErrorAt(type->where, "step 'type' must be a string, got " + type->TypeName());
      return;
    }
    config.type = type->scalar.get<std::string>();
    const StepType* step_type = context_.registry.Find(config.type);
    if (step_type == nullptr) {
      context_.ErrorAt(type->where, "unknown step type '" + config.type + "'" +
                                        DidYouMean(config.type, context_.registry.Names()));
      return;
    }
    if (!CompileParams(item, *step_type, config)) return;
    Status error;
    std::unique_ptr<Step> step = step_type->factory(config, context_.environment, &error);
    if (step == nullptr) {
      context_.ErrorAt(type->where, error.ok() ? "cannot build step '" + config.id + "'" : error.message());
      return;
    }
    flow_.steps.push_back({config.id, config.type, std::move(step)});
  }

  bool CompileParams(const ConfigNode& item, const StepType& step_type, StepConfig& config) {
    const size_t errors_before = context_.diagnostics.size();
    std::vector<std::string> keys = {"id", "type"};
    for (const auto& param : step_type.params) keys.push_back(param.name);
    context_.CheckKeys(item, keys, "step '" + config.id + "' (" + step_type.name + ")");
    for (const auto& param : step_type.params) {
      const ConfigNode* node = item.Find(param.name);
      if (node == nullptr) {
        if (param.required) {
          context_.ErrorAt(item.where, "step '" + config.id + "' (" + step_type.name +
                                           ") is missing required key '" + param.name + "'");
        } else if (!param.default_value.is_null()) {
          config.params[param.name] = param.default_value;
        }
        continue;
      }
      if (!ParamTypeMatches(param.type, *node)) {
        context_.ErrorAt(node->where, "'" + param.name + "' must be a" +
                                          (param.type == ParamType::kInteger ? "n " : " ") +
                                          ParamTypeName(param.type) + ", got " + node->TypeName());
        continue;
      }
      config.params[param.name] = node->ToJson();
      if (!param.allowed.empty()) CheckAllowed(param, *node);
      if (param.type == ParamType::kTemplate) {
        if (auto compiled = CompileTemplate(param.name, *node)) config.templates.emplace(param.name, std::move(*compiled));
      }
      if (param.type == ParamType::kTemplateList) CompileTemplateList(param.name, *node, config);
    }
    return context_.diagnostics.size() == errors_before;
  }

  void CheckAllowed(const ParamSpec& param, const ConfigNode& node) {
    const std::string value = node.scalar.get<std::string>();
    if (std::find(param.allowed.begin(), param.allowed.end(), value) != param.allowed.end()) return;
    std::string list;
    for (const auto& allowed : param.allowed) list += (list.empty() ? "" : ", ") + allowed;
    std::string hint = DidYouMean(value, param.allowed);
    context_.ErrorAt(node.where, "'" + param.name + "' must be one of " + list + ", got '" + value + "'" + hint);
  }

  std::optional<Template> CompileTemplate(const std::string& name, const ConfigNode& node) {
    const std::string text = node.scalar.get<std::string>();
    Template::CompileError error;
    auto compiled = Template::Compile(text, &error);
    if (!compiled) {
      context_.ErrorAt(OffsetLocation(node, text, error.offset, 1), "in '" + name + "': " + error.message);
      return std::nullopt;
    }
    for (const Template::Variable* variable : compiled->Variables()) CheckVariable(node, text, *variable);
    return compiled;
  }

  void CompileTemplateList(const std::string& name, const ConfigNode& list, StepConfig& config) {
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
      if (auto compiled = CompileTemplate(name, item)) templates.push_back(std::move(*compiled));
    }
    config.template_lists.emplace(name, std::move(templates));
  }

  void CheckVariable(const ConfigNode& node, const std::string& text, const Template::Variable& variable) {
    const std::string& root = std::get<std::string>(variable.path.front());
    const int length = static_cast<int>(variable.text.size());
    if (std::find(roots_.begin(), roots_.end(), root) == roots_.end()) {
      context_.ErrorAt(OffsetLocation(node, text, variable.offset, static_cast<int>(root.size())),
                       "unknown variable '" + root + "'" + DidYouMean(root, roots_));
      return;
    }
    if (root != "input" || variable.path.size() < 2) return;
    const auto* field = std::get_if<std::string>(&variable.path[1]);
    if (field == nullptr || flow_.input.Find(*field) != nullptr) return;
    std::vector<std::string> names;
    for (const auto& input : flow_.input.fields()) names.push_back(input.name);
    context_.ErrorAt(OffsetLocation(node, text, variable.offset, length),
                     "unknown input '" + *field + "'" + DidYouMean(*field, names));
  }

  const CompileContext& context_;
  Flow& flow_;
  std::vector<std::string> roots_;
  std::set<std::string> ids_;
};

}  // namespace

void CompileSteps(const ConfigNode& steps, const CompileContext& context, Flow& flow) {
  StepCompiler(context, flow).CompileAll(steps);
}

}  // namespace flowrun
