// Internal to the runner: expressions evaluated against a scope's state,
// with the run's bounds, as Status values. Thread-safe (pure).
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "expr/expression.h"

namespace flowrun {

// The expression's value in `state` (the scope's state object, whose keys are the roots).
Status EvaluateIn(const expr::Expression& expression, const nlohmann::json& state, nlohmann::json* out);

// Whether it holds (Jinja truthiness).
Status HoldsIn(const expr::Expression& expression, const nlohmann::json& state, bool* holds);

}  // namespace flowrun
