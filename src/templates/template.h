// Template: a Jinja-compatible subset rendered against a run's state, on
// the expression language (src/expr):
//   {{ expr }}  {{ expr | filter(arg) }}            output (null renders as nothing,
//                                                   non-strings as JSON)
//   {% if c %}...{% elif d %}...{% else %}...{% endif %}
//   {% for x in list %}...{% else %}...{% endfor %}  loop.index loop.index0 loop.first
//                                                   loop.last loop.length loop.revindex loop.revindex0
//   {% set x = expr %}   {% raw %}...{% endraw %}   {# comment #}
//   {%- -%} {{- -}} {#- -#}                         strip the whitespace before / after
// Values are inserted as text and never rendered again: a message holding
// "{{ input.x }}" stays literal. Compiled once when a flow loads; a
// Template is immutable, so Render is const and thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "expr/expression.h"

namespace flowrun {

namespace template_internal {
struct Node;
}  // namespace template_internal

class Template {
 public:
  // A state path the template reads (the older form of Reads(), kept for
  // callers that use it): the root and its literal keys and non-negative
  // indices, in order.
  using PathElement = std::variant<std::string, size_t>;
  struct Variable {
    std::vector<PathElement> path;
    std::string text;  // as written, trimmed: "input.message"
    size_t offset;     // where the path starts in the template text
  };

  struct CompileError {
    std::string message;
    size_t offset;  // where in the template text
  };

  static std::optional<Template> Compile(std::string_view text, CompileError* error);

  // Renders against the state's top-level keys. An unset path is an error
  // naming it (kNotFound), a limit reached is kResourceExhausted.
  Status Render(const nlohmann::json& state, std::string* out) const;
  Status Render(const expr::Variables& variables, std::string* out, const expr::EvalLimits& limits = {}) const;

  // The expression when the whole text is exactly one `{{ expr }}`, so a
  // caller can keep its type (`n: "{{ n + 1 }}"` stores a number); else null.
  const expr::Expression* SingleExpression() const;

  // The state paths read, offsets into the template text; loop variables,
  // `loop` and names bound by `set` are not reads of the state.
  std::vector<expr::VariableRead> Reads() const;

  // Load-time checks of every expression against the roots that may be
  // read (loop and set names are added where they are bound), with offsets
  // into the template text, in text order.
  std::vector<expr::ExprError> Check(const expr::CheckScope& scope) const;

  std::vector<const Variable*> Variables() const;
  // No placeholders, tags or comments: the text renders as itself.
  bool IsPlainText() const;

 private:
  const std::vector<template_internal::Node>& body() const;  // empty for a default-made Template

  std::shared_ptr<const std::vector<template_internal::Node>> body_;
  std::vector<Variable> variables_;
  bool plain_ = true;
};

}  // namespace flowrun
