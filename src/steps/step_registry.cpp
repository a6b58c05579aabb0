// StepRegistry bookkeeping and the default environment.
#include "steps/step_registry.h"

#include <cstdlib>

#include "llm/provider_factory.h"

namespace flowrun {

bool IsOutputParam(const std::string& name) { return name == "output" || name == "reasoning_output"; }

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
    case ParamType::kExpression:
      return "expression";
    case ParamType::kSteps:
      return "steps";
    case ParamType::kStepMap:
      return "name: steps";
    case ParamType::kValues:
      return "name: value";
    case ParamType::kIntegerList:
      return "list of integers";
    case ParamType::kMessages:
      return "messages";
    case ParamType::kTemplateList:
      return "list of templates";
    case ParamType::kSchema:
      return "JSON Schema";
    case ParamType::kTools:
      return "tools";
    case ParamType::kMockTurn:
      return "mock answer";
    case ParamType::kMockTurns:
      return "list of mock answers";
  }
  return "value";
}

const std::vector<ParamSpec>& CommonStepParams() {
  static const std::vector<ParamSpec> params = {
      {"id", ParamType::kString, false, nullptr, "the step's name in events and paths (default step<N>)", {}},
      {"if", ParamType::kExpression, false, nullptr, "skip the step unless this holds", {}},
      {"timeout_ms", ParamType::kInteger, false, nullptr,
       "fail the step after this long, stopping its work (an upstream transfer included)", {}},
      {"retry", ParamType::kValues, false, nullptr,
       "{max_attempts, backoff_ms}: run the step again after an error, unless it already streamed to the client",
       {}},
      {"on_error", ParamType::kString, false, "fail",
       "fail, continue, or a list of steps to run instead (they see error.message and error.step)", {}},
  };
  return params;
}

StepEnvironment DefaultStepEnvironment() {
  StepEnvironment environment;
  environment.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  environment.make_llm_client = MakeLlmClient;
  environment.http_client = CurlHttpClient();
  return environment;
}

Status StepRegistry::Register(StepType type) {
  if (type.name.empty()) return Status::InvalidArgument("a step type needs a name");
  if (!type.factory && !type.control) {
    return Status::InvalidArgument("step type '" + type.name + "' has no factory");
  }
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
