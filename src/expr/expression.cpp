// Expression: the public face of src/expr (parse, check, evaluate).
#include "expr/expression.h"

#include "expr/evaluator.h"
#include "expr/node.h"
#include "expr/values.h"

namespace flowrun::expr {

std::optional<Expression> Expression::Parse(std::string_view text, ExprError* error) {
  NodePtr root = ParseTree(text, error);
  if (!root) return std::nullopt;
  Expression expression;
  expression.text_ = std::string(text);
  expression.root_ = std::move(root);
  return expression;
}

std::vector<ExprError> Expression::Check(const CheckScope& scope) const {
  return CheckTree(text_, *root_, scope);
}

EvalResult Expression::Evaluate(const Variables& variables, const EvalLimits& limits) const {
  EvalResult result;
  try {
    Evaluator evaluator(text_, variables, limits);
    Value value = evaluator.EvalDefined(*root_);
    result.value = value.Take();
  } catch (const EvalFailure& failure) {
    result.error = failure.message;
    result.error_kind = failure.kind;
  } catch (const std::exception& error) {  // nlohmann or allocation: never past the API
    result.error = std::string("cannot evaluate '") + text_ + "': " + error.what();
  }
  return result;
}

bool Expression::Truthy(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return false;
    case nlohmann::json::value_t::boolean: return value.get<bool>();
    case nlohmann::json::value_t::number_integer: return value.get<int64_t>() != 0;
    case nlohmann::json::value_t::number_unsigned: return value.get<uint64_t>() != 0;
    case nlohmann::json::value_t::number_float: return value.get<double>() != 0;
    case nlohmann::json::value_t::string: return !value.get_ref<const std::string&>().empty();
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::object: return !value.empty();
    default: return false;
  }
}

std::vector<VariableRead> Expression::Reads() const { return ReadsOf(text_, *root_); }

std::string ToText(const nlohmann::json& value) {
  std::string text;
  AppendText(value, &text);
  return text;
}

}  // namespace flowrun::expr
