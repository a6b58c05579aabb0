// The operators' semantics over JSON values (arithmetic, comparison, `in`,
// `~`) and their type rules, shared by the load-time check and the
// evaluator so both give the same messages. Pure functions; thread-safe.
// Private to src/expr.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "expr/evaluator.h"
#include "expr/node.h"
#include "expr/values.h"

namespace flowrun::expr {

// The type error of `left op right` when no value of the kinds `left` and
// `right` can work ("cannot apply '-' to a string and a number", "cannot
// compare a string with a number"); nullopt when some combination can.
// Either side may be a set of kinds (not known before running).
std::optional<std::string> BinaryTypeError(Op op, Kinds left, Kinds right);
std::optional<std::string> UnaryTypeError(Op op, Kinds operand);

// What an operator produces, for the load-time check.
Kinds BinaryResultKinds(Op op, Kinds left, Kinds right);

// Evaluates an arithmetic, comparison, `in` or `~` operator on defined values.
nlohmann::json ApplyBinary(Evaluator& evaluator, Op op, const nlohmann::json& left, const nlohmann::json& right);
nlohmann::json ApplyUnary(Evaluator& evaluator, Op op, const nlohmann::json& operand);

}  // namespace flowrun::expr
