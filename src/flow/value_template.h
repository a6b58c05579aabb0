// ValueTemplate: a parameter that takes a value rather than text (`set`
// values, `call` input): a JSON tree whose strings are templates. A string
// that is exactly one `{{ expr }}` keeps the expression's type (a number, a
// list); any other string renders as text; numbers, booleans and null stay
// as written; lists and mappings are evaluated item by item. Compiled once
// when a flow loads; Evaluate is const and thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config_node.h"
#include "core/status.h"
#include "templates/template.h"

namespace flowrun {

class ValueTemplate {
 public:
  // Compiles (and checks) one string of the value; nullopt after reporting a problem.
  using CompileString = std::function<std::optional<Template>(const ConfigNode& string_node)>;

  // nullopt when a string failed to compile (already reported by `compile`).
  static std::optional<ValueTemplate> Compile(const ConfigNode& node, const CompileString& compile);

  // The value against the run's state (the scope the step runs in).
  Status Evaluate(const nlohmann::json& state, nlohmann::json* out) const;

 private:
  enum class Kind { kLiteral, kText, kList, kMapping };
  Kind kind_ = Kind::kLiteral;
  nlohmann::json literal_;
  std::optional<Template> text_;
  std::vector<ValueTemplate> items_;
  std::vector<std::pair<std::string, ValueTemplate>> members_;
};

}  // namespace flowrun
