// Control steps (set, if, switch, loop, parallel, map, call, fail): their
// parameters into a ControlSpec, their nested blocks into FlowStep::blocks.
#include <algorithm>

#include "config/flow_file_limits.h"
#include "flow/compile_context.h"

namespace flowrun {
namespace {

const std::map<std::string, ControlKind> kKinds = {
    {"set", ControlKind::kSet},       {"if", ControlKind::kIf},   {"switch", ControlKind::kSwitch},
    {"loop", ControlKind::kLoop},     {"parallel", ControlKind::kParallel},
    {"map", ControlKind::kMap},       {"call", ControlKind::kCall}, {"fail", ControlKind::kFail},
};

// State keys a step may not write: the run's input and the names the
// runner sets itself inside blocks.
const std::vector<std::string> kReadOnlyKeys = {"input", "loop", "error"};

bool IsName(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string StringParam(const StepConfig& config, const std::string& name) {
  auto found = config.params.find(name);
  return found != config.params.end() && found->is_string() ? found->get<std::string>() : "";
}

}  // namespace

void StepCompiler::AddBlock(const ConfigNode& list, const std::string& name, const BlockScope& scope,
                            FlowStep& step, const std::vector<std::string>& extra_roots) {
  BlockScope inner;
  inner.path = step.path + "/" + name;
  inner.depth = scope.depth + 1;
  inner.roots = scope.roots;
  for (const auto& root : extra_roots) {
    if (std::find(inner.roots.begin(), inner.roots.end(), root) == inner.roots.end()) inner.roots.push_back(root);
  }
  step.blocks.push_back({name, CompileBlock(list, inner, "'" + name + "'")});
}

bool StepCompiler::CompileControl(const ConfigNode& item, const StepConfig& config, const BlockScope& scope,
                                  FlowStep& step) {
  auto spec = std::make_shared<ControlSpec>();
  spec->kind = kKinds.at(config.type);
  const size_t errors_before = context_.diagnostics.size();
  const std::string what = config.type + " '" + config.id + "'";
  switch (spec->kind) {
    case ControlKind::kSet:
      CompileValues(*item.Find("values"), scope, *spec, true);
      break;
    case ControlKind::kIf:
      spec->expression = CompileExpression("when", *item.Find("when"), scope);
      AddBlock(*item.Find("then"), "then", scope, step);
      if (const ConfigNode* otherwise = item.Find("else")) {
        spec->has_else = true;
        AddBlock(*otherwise, "else", scope, step);
      }
      break;
    case ControlKind::kSwitch:
      CompileSwitch(item, scope, step, *spec);
      break;
    case ControlKind::kLoop: {
      const ConfigNode& bound = *item.Find("max_iterations");
      if (bound.scalar.get<long long>() < 1) {
        context_.ErrorAt(bound.where, "'max_iterations' must be at least 1");
      } else {
        spec->max_iterations = static_cast<int>(std::min<long long>(bound.scalar.get<long long>(), 1 << 30));
      }
      if (const ConfigNode* until = item.Find("until")) {
        spec->expression = CompileExpression("until", *until, scope);
      }
      spec->fail_on_limit = StringParam(config, "on_limit") == "fail";
      AddBlock(*item.Find("steps"), "steps", scope, step, {"loop"});
      break;
    }
    case ControlKind::kParallel: {
      const ConfigNode& branches = *item.Find("branches");
      if (branches.entries.empty()) context_.ErrorAt(branches.where, "'branches' of " + what + " is empty");
      for (const auto& [name, block] : branches.entries) {
        if (!IsName(name)) {
          context_.ErrorAt(block.key_where,
                           "branch name '" + name + "' may only hold letters, digits and '_' (not first)");
          continue;
        }
        AddBlock(block, "branches." + name, scope, step);
      }
      spec->interleave = StringParam(config, "stream") == "interleave";
      break;
    }
    case ControlKind::kMap:
      CompileMap(item, config, scope, step, *spec);
      break;
    case ControlKind::kCall:
      spec->flow = StringParam(config, "flow");
      spec->output = StringParam(config, "output");
      spec->output_from = StringParam(config, "output_from");
      if (const ConfigNode* input = item.Find("input")) CompileValues(*input, scope, *spec, false);
      if (!spec->output_from.empty() && spec->output.empty()) {
        context_.ErrorAt(item.Find("output_from")->where,
                         "'output_from' needs 'output' (the state key that receives the value)");
      }
      break;
    case ControlKind::kFail:
      spec->message = CompileTemplate("message", *item.Find("message"), scope);
      break;
    case ControlKind::kNone:
      break;
  }
  for (const char* key : {"output"}) {
    const ConfigNode* node = item.Find(key);
    if (node == nullptr || !node->IsString()) continue;
    const std::string name = node->scalar.get<std::string>();
    if (!IsName(name)) {
      context_.ErrorAt(node->where, "'output' must be a name (letters, digits and '_'), got '" + name + "'");
    } else if (std::find(kReadOnlyKeys.begin(), kReadOnlyKeys.end(), name) != kReadOnlyKeys.end()) {
      context_.ErrorAt(node->where, "'" + name + "' cannot be written by a step");
    }
  }
  step.control = std::move(spec);
  return context_.diagnostics.size() == errors_before;
}

bool StepCompiler::CompileSwitch(const ConfigNode& item, const BlockScope& scope, FlowStep& step,
                                 ControlSpec& spec) {
  spec.expression = CompileExpression("on", *item.Find("on"), scope);
  const ConfigNode& cases = *item.Find("cases");
  if (cases.entries.empty()) context_.ErrorAt(cases.where, "'cases' is empty; a switch needs at least one case");
  for (const auto& [key, block] : cases.entries) {
    if (key.empty() || key.find('/') != std::string::npos) {
      context_.ErrorAt(block.key_where, "case '" + key + "' must be a non-empty value without '/'");
      continue;
    }
    spec.case_keys.push_back(key);
    AddBlock(block, "cases." + key, scope, step);
  }
  if (const ConfigNode* fallback = item.Find("default")) {
    spec.default_block = static_cast<int>(step.blocks.size());
    AddBlock(*fallback, "default", scope, step);
  }
  return true;
}

bool StepCompiler::CompileMap(const ConfigNode& item, const StepConfig& config, const BlockScope& scope,
                              FlowStep& step, ControlSpec& spec) {
  spec.expression = CompileExpression("over", *item.Find("over"), scope);
  spec.as = StringParam(config, "as");
  if (const ConfigNode* as = item.Find("as")) {
    if (!IsName(spec.as)) {
      context_.ErrorAt(as->where, "'as' must be a name (letters, digits and '_'), got '" + spec.as + "'");
    } else if (std::find(kReadOnlyKeys.begin(), kReadOnlyKeys.end(), spec.as) != kReadOnlyKeys.end() ||
               spec.as == "history") {
      context_.ErrorAt(as->where, "'as' cannot be '" + spec.as + "' (a name the run already uses)");
    }
  }
  const long long concurrency = config.params.at("concurrency").get<long long>();
  const ConfigNode* concurrency_node = item.Find("concurrency");
  if (concurrency < 1) {
    context_.ErrorAt(concurrency_node->where, "'concurrency' must be at least 1");
  } else if (concurrency > kMaxMapConcurrency) {
    context_.ErrorAt(concurrency_node->where, "'concurrency' is " + std::to_string(concurrency) + ", more than " +
                                                  std::to_string(kMaxMapConcurrency) + kFlowFileLimitSuffix);
  } else {
    spec.concurrency = static_cast<int>(concurrency);
  }
  const std::vector<std::string> inner_roots = {spec.as, "loop"};
  AddBlock(*item.Find("steps"), "steps", scope, step, inner_roots);
  spec.output = StringParam(config, "output");
  if (const ConfigNode* collect = item.Find("collect")) {
    BlockScope inner = scope;
    for (const auto& root : inner_roots) inner.roots.push_back(root);
    spec.collect = CompileExpression("collect", *collect, inner);
    if (spec.output.empty()) {
      context_.ErrorAt(collect->where, "'collect' needs 'output' (the state key that receives the list)");
    }
  } else if (const ConfigNode* output = item.Find("output")) {
    context_.ErrorAt(output->where, "'output' needs 'collect' (the value each item contributes)");
  }
  return true;
}

// `set` values (state keys) or `call` input (the called flow's fields).
bool StepCompiler::CompileValues(const ConfigNode& values, const BlockScope& scope, ControlSpec& spec,
                                 bool state_keys) {
  if (state_keys && values.entries.empty()) {
    context_.ErrorAt(values.where, "'values' is empty; set at least one key");
    return false;
  }
  bool ok = true;
  for (const auto& [key, value] : values.entries) {
    if (state_keys && !IsName(key)) {
      context_.ErrorAt(value.key_where, "'" + key + "' is not a state key name (letters, digits and '_')");
      ok = false;
      continue;
    }
    if (state_keys && std::find(kReadOnlyKeys.begin(), kReadOnlyKeys.end(), key) != kReadOnlyKeys.end()) {
      context_.ErrorAt(value.key_where, "'" + key + "' cannot be written by a step");
      ok = false;
      continue;
    }
    const std::string& name = key;  // clang 14 cannot capture a structured binding
    ValueTemplate::CompileString compile = [this, &scope, &name](const ConfigNode& node) {
      return CompileTemplate(name, node, scope);
    };
    auto compiled = ValueTemplate::Compile(value, compile);
    if (!compiled) {
      ok = false;
      continue;
    }
    spec.values.emplace_back(key, std::move(*compiled));
  }
  return ok;
}

}  // namespace flowrun
