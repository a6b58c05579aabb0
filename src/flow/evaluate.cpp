// Expression evaluation for the runner.
#include "flow/evaluate.h"

namespace flowrun {

Status EvaluateIn(const expr::Expression& expression, const nlohmann::json& state, nlohmann::json* out) {
  expr::EvalResult result = expression.Evaluate(expr::JsonVariables(state));
  if (result.ok()) {
    *out = std::move(result.value);
    return Status::Ok();
  }
  switch (result.error_kind) {
    case expr::EvalResult::ErrorKind::kNotSet:
      return Status::NotFound(*result.error);
    case expr::EvalResult::ErrorKind::kLimit:
      return Status::ResourceExhausted(*result.error);
    case expr::EvalResult::ErrorKind::kInvalid:
      break;
  }
  return Status::InvalidArgument(*result.error);
}

Status HoldsIn(const expr::Expression& expression, const nlohmann::json& state, bool* holds) {
  nlohmann::json value;
  Status status = EvaluateIn(expression, state, &value);
  *holds = status.ok() && expr::Expression::Truthy(value);
  return status;
}

}  // namespace flowrun
