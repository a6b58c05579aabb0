// The control step types: their names and parameters, for the registry and
// `flowrun steps`. They have no factory: the flow compiler builds them into
// the flow's tree (src/flow/control_compiler.cpp) and the runner interprets
// them (src/flow/control_runner.cpp).
#include "steps/builtin_steps.h"

namespace flowrun {
namespace {

StepType Control(std::string name, std::string description, std::vector<ParamSpec> params) {
  StepType type;
  type.name = std::move(name);
  type.description = std::move(description);
  type.params = std::move(params);
  type.control = true;
  return type;
}

}  // namespace

std::vector<StepType> ControlStepTypes() {
  std::vector<StepType> types;
  types.push_back(Control("set", "Writes values into the state.",
                          {{"values", ParamType::kValues, true, nullptr,
                            "state keys and their values; \"{{ expr }}\" alone keeps the expression's type", {}}}));
  types.push_back(Control("if", "Runs `then` when `when` holds, else `else`.",
                          {{"when", ParamType::kExpression, true, nullptr, "the condition", {}},
                           {"then", ParamType::kSteps, true, nullptr, "steps run when it holds", {}},
                           {"else", ParamType::kSteps, false, nullptr, "steps run when it does not", {}}}));
  types.push_back(Control("switch", "Runs the case whose key equals the value of `on`.",
                          {{"on", ParamType::kExpression, true, nullptr, "the value to match", {}},
                           {"cases", ParamType::kStepMap, true, nullptr, "value: steps", {}},
                           {"default", ParamType::kSteps, false, nullptr,
                            "steps for any other value (without it, another value is an error)", {}}}));
  types.push_back(Control(
      "loop", "Repeats its steps until `until` holds, at most max_iterations times (loop.index from 1).",
      {{"max_iterations", ParamType::kInteger, true, nullptr, "the bound (required)", {}},
       {"until", ParamType::kExpression, false, nullptr, "checked after each iteration", {}},
       {"on_limit", ParamType::kString, false, "continue",
        "at the bound: continue with the flow, or fail", {"continue", "fail"}},
       {"steps", ParamType::kSteps, true, nullptr, "the steps of one iteration", {}}}));
  types.push_back(Control(
      "parallel", "Runs its branches concurrently, each in its own scope; their writes are merged after.",
      {{"branches", ParamType::kStepMap, true, nullptr, "name: steps", {}},
       {"stream", ParamType::kString, false, nullptr, "interleave: several branches may stream to the client",
        {"interleave"}}}));
  types.push_back(Control(
      "map", "Runs its steps once per item of a list, a bounded number at a time, each in its own scope.",
      {{"over", ParamType::kExpression, true, nullptr, "the list", {}},
       {"as", ParamType::kString, false, "item", "the item's name inside the steps", {}},
       {"concurrency", ParamType::kInteger, false, 1, "items run at once (at most 64)", {}},
       {"steps", ParamType::kSteps, true, nullptr, "the steps run per item", {}},
       {"collect", ParamType::kExpression, false, nullptr, "the value each item contributes", {}},
       {"output", ParamType::kString, false, nullptr, "state key of the collected list, in input order", {}}}));
  types.push_back(Control(
      "call", "Runs another flow (one loaded beside this one) with the given input.",
      {{"flow", ParamType::kString, true, nullptr, "the called flow's name", {}},
       {"input", ParamType::kValues, false, nullptr, "the called flow's input fields", {}},
       {"output", ParamType::kString, false, nullptr, "state key that receives the called flow's state", {}},
       {"output_from", ParamType::kString, false, nullptr,
        "store only this key of the called flow's state (e.g. reply)", {}}}));
  types.push_back(Control("fail", "Ends the run with an error.",
                          {{"message", ParamType::kTemplate, true, nullptr, "the error message", {}}}));
  return types;
}

}  // namespace flowrun
