// StepRegistry: the named step types a flow may use, each with its parameter
// schema and a factory. Built explicitly (RegisterBuiltinSteps plus any
// custom types) rather than by static self-registration, so tests can build
// registries with fakes. Not thread-safe while registering; read-only after.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "templates/template.h"
#include "llm/http_client.h"
#include "llm/provider_settings.h"
#include "schema/json_schema.h"
#include "steps/step.h"

namespace flowrun {

// kExpression: an expression (`when: category == "billing"`); kSteps: a
// list of steps; kStepMap: a mapping of names to lists of steps (`cases`,
// `branches`); kValues: a mapping of names to typed values (`set`, `call`
// input); kMessages: a list of {role, content} with templated content;
// kTemplateList: a non-empty list of templates; kIntegerList: a list of
// whole numbers (the http step's accept_status); kSchema: a JSON Schema
// written as a mapping (llm-stream's output_schema), checked at load;
// kTools: llm-stream's list of tools; kMockTurn / kMockTurns: one scripted
// mock answer (a text template, or a mapping of text, json, tool_calls and
// reasoning whose strings are templates) / a non-empty list of them.
enum class ParamType {
  kString,
  kTemplate,
  kNumber,
  kInteger,
  kBoolean,
  kExpression,
  kSteps,
  kStepMap,
  kValues,
  kMessages,
  kTemplateList,
  kIntegerList,
  kSchema,
  kTools,
  kMockTurn,
  kMockTurns,
};

// Whether a parameter names a state key the step writes (output, and
// llm-stream's reasoning_output), for the compiler's checks.
bool IsOutputParam(const std::string& name);

const char* ParamTypeName(ParamType type);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  bool required = false;
  nlohmann::json default_value;  // null: no default
  std::string description;
  std::vector<std::string> allowed;  // for strings: the only values accepted
};

// A kValues parameter of a leaf step, compiled by the flow compiler: a tree
// whose strings are templates (one lone `{{ expr }}` keeps its type).
// Immutable; Evaluate is thread-safe.
class StepValue {
 public:
  virtual ~StepValue() = default;
  virtual Status Evaluate(const nlohmann::json& state, nlohmann::json* out) const = 0;
};

struct StepConfig;

// One of llm-stream's `tools:`, checked and compiled: its request (`http:`,
// compiled like an http step's parameters, with the model's arguments as
// `args`) or the flow it calls (`flow:`).
struct ToolConfig {
  std::string name;
  std::string description;
  nlohmann::json parameters;                      // the JSON Schema as written
  std::shared_ptr<const CompiledSchema> schema;   // compiled from it
  std::shared_ptr<const StepConfig> http;         // null for a flow tool
  std::string flow;
  std::string output_from = "reply";  // flow tools: the key of the called flow's state that is the result
};

// A step's configuration after validation: every declared parameter that was
// given or has a default is in `params` (kValues, kIntegerList, kSchema and
// the mock turns as written); template parameters are compiled (a list of
// templates into `template_lists`, in order), and so are kValues and
// kMockTurn ones (into `values`; kMockTurns into `value_lists`), kSchema
// ones (into `schemas`) and kTools (into `tools`).
struct StepConfig {
  std::string id;
  std::string type;
  nlohmann::json params = nlohmann::json::object();
  std::map<std::string, Template> templates;
  std::map<std::string, std::vector<Template>> template_lists;
  std::map<std::string, std::shared_ptr<const StepValue>> values;
  std::map<std::string, std::vector<std::shared_ptr<const StepValue>>> value_lists;
  std::map<std::string, std::shared_ptr<const CompiledSchema>> schemas;
  std::vector<ToolConfig> tools;
};

// What factories may use from the outside world. Tests replace them.
struct StepEnvironment {
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  std::function<std::shared_ptr<LlmClient>(const ProviderSettings&)> make_llm_client;
  // The client http steps send with (null: the curl one).
  std::shared_ptr<HttpClient> http_client;
};

// Uses the process environment and the real providers.
StepEnvironment DefaultStepEnvironment();

// Returns the step, or nullptr with `error` set (its message is shown at the step).
using StepFactory = std::function<std::unique_ptr<Step>(
    const StepConfig& config, const StepEnvironment& environment, Status* error)>;

struct StepType {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;
  StepFactory factory;  // leaf steps only
  // A control step (set, if, loop, ...): no factory; the flow compiler
  // builds it into the flow's tree and the runner interprets it.
  bool control = false;
  // For the checks before running: the state keys a leaf step always
  // writes besides its `output` (append-message: history), and its
  // parameters whose value names a state key it reads (append-reply: from).
  std::vector<std::string> writes;
  std::vector<std::string> key_params_read;
};

// The keys every step takes besides its own parameters: id, type, if,
// timeout_ms, retry, on_error (for `flowrun steps` and the compiler).
const std::vector<ParamSpec>& CommonStepParams();

class StepRegistry {
 public:
  // Refuses a second type with the same name.
  Status Register(StepType type);
  const StepType* Find(const std::string& name) const;
  std::vector<std::string> Names() const;
  const std::map<std::string, StepType>& types() const { return types_; }

 private:
  std::map<std::string, StepType> types_;
};

// append-message, llm-stream, append-reply, and the control steps (set,
// if, switch, loop, parallel, map, call, fail).
void RegisterBuiltinSteps(StepRegistry& registry);

}  // namespace flowrun
