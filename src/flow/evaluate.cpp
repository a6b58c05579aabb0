// Expression evaluation for the runner.
#include "flow/evaluate.h"

namespace flowrun {

// The expression module lands with branch `expr`; until then no flow that
// holds an expression loads (see template_checks.cpp), so these never run.
Status EvaluateIn(const expr::Expression& /*expression*/, const nlohmann::json& /*state*/, nlohmann::json* /*out*/) {
  return Status::Internal("expressions are not supported by this build yet");
}

Status HoldsIn(const expr::Expression& expression, const nlohmann::json& state, bool* holds) {
  nlohmann::json value;
  Status status = EvaluateIn(expression, state, &value);
  *holds = false;
  return status;
}

}  // namespace flowrun
