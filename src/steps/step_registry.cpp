// StepRegistry bookkeeping and the default environment.
#include "steps/step_registry.h"

#include <cstdlib>

#include "llm/provider_factory.h"

namespace flowrun {

const char* ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString:
      return "string";
    case ParamType::kTemplate:
      return "template";
    case ParamType::kNumber:
      return "number";
    case ParamType::kInteger:
      return "integer";
    case ParamType::kBoolean:
      return "boolean";
    case ParamType::kTemplateList:
      return "list of templates";
  }
  return "value";
}

StepEnvironment DefaultStepEnvironment() {
  StepEnvironment environment;
  environment.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  environment.make_llm_client = MakeLlmClient;
  return environment;
}

Status StepRegistry::Register(StepType type) {
  if (type.name.empty()) return Status::InvalidArgument("a step type needs a name");
  if (!type.factory) return Status::InvalidArgument("step type '" + type.name + "' has no factory");
  if (types_.count(type.name) != 0) {
    return Status::AlreadyExists("step type '" + type.name + "' is already registered");
  }
  std::string name = type.name;
  types_.emplace(std::move(name), std::move(type));
  return Status::Ok();
}

const StepType* StepRegistry::Find(const std::string& name) const {
  auto found = types_.find(name);
  return found == types_.end() ? nullptr : &found->second;
}

std::vector<std::string> StepRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, type] : types_) names.push_back(name);
  return names;
}

}  // namespace flowrun
