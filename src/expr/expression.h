// Expression: flowrun's small, safe expression language, used by step
// conditions (`when`, `until`, `if`, `on`), by typed values in `set` and by
// templates (`{{ expr }}`). Values are JSON. An expression is parsed and
// checked once when a flow loads; Evaluate is const and thread-safe, so one
// compiled Expression is shared by every concurrent run.
//
// The language:
//   literals     "text" 'text' 12 3.5 true false null [1, "a"] {"k": 1}
//                (Jinja's True False None none are accepted too)
//   paths        input.message  history[-1].content  reply  loop.index  item  a["key"]  a[1:3]
//   operators    a if c else b / or / and / not / == != < <= > >= in, not in / ~ / + - /
//                * / // % / unary - +   (lowest to highest); then filters `|` and tests `is`
//   filters      value | lower   value | default("x")   value | replace("a", "b")
//   functions    length(x) lower(x) ... (every filter may also be called as a function)
//   tests        value is defined   n is not even   (defined undefined none boolean string
//                number integer float list mapping even odd)
//   parentheses
// Filters and functions: length lower upper trim contains starts_with
// ends_with split join replace default json (alias tojson) from_json round
// int float string first last abs. Nothing can run code, touch files or the
// network; evaluation is bounded in nesting depth and in the size of what it
// produces.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace flowrun::expr {

// Where in the expression's own text (0-based byte offset, length >= 1).
struct TextSpan {
  size_t offset = 0;
  size_t length = 1;
};

// A problem found while parsing or checking: "unknown filter 'lowr'; did you mean 'lower'?".
struct ExprError {
  std::string message;
  TextSpan where;
};

// A variable the expression reads: its root name ("input" for
// `input.message`), the dotted path as written, and whether every read of
// it is guarded by `| default(...)` (a guarded read of a possibly unset
// variable is not a warning).
struct VariableRead {
  std::string root;
  std::string text;  // "input.message", "history[-1].content"
  TextSpan where;
  bool guarded = false;
  // The literal keys (strings) and indices (integers) after the root, up to
  // the first computed one: ["message"] for input.message, [-1, "content"]
  // for history[-1].content, [] for history[i].content.
  std::vector<nlohmann::json> path;
};

// What a load-time check knows: the root names that may be read here. A
// root not in the list is "unknown variable 'x'; did you mean 'y'?".
struct CheckScope {
  std::vector<std::string> roots;
};

// Bounds on one evaluation. Exceeding one is an error naming it
// ("expression output is larger than 1048576 bytes (max_output_bytes)").
struct EvalLimits {
  size_t max_depth = 64;                 // nesting of calls/operators while evaluating
  size_t max_output_bytes = 1u << 20;    // any string or list built by the expression
  size_t max_iterations = 100000;        // template for-loop iterations in one render
};

// The run's values, looked up by root name. Implementations decide the
// scoping (state, then a branch's writes, then `loop`/`item`).
class Variables {
 public:
  virtual ~Variables() = default;
  // The root's value, or nullptr when it is not set.
  virtual const nlohmann::json* Find(std::string_view root) const = 0;
};

// Variables over one JSON object (its keys are the roots).
class JsonVariables : public Variables {
 public:
  explicit JsonVariables(const nlohmann::json& object) : object_(object) {}
  const nlohmann::json* Find(std::string_view root) const override {
    if (!object_.is_object()) return nullptr;
    auto found = object_.find(std::string(root));
    return found == object_.end() ? nullptr : &*found;
  }

 private:
  const nlohmann::json& object_;
};

// The result of an evaluation: a value, or an error message naming what
// went wrong ("'input.mesage' is not set", "cannot compare a string with a number").
struct EvalResult {
  enum class ErrorKind {
    kInvalid,  // a type error, division by zero, bad JSON for from_json ...
    kNotSet,   // a path that is not set ("'input.mesage' is not set")
    kLimit,    // an EvalLimits bound was reached
  };
  nlohmann::json value;
  std::optional<std::string> error;
  ErrorKind error_kind = ErrorKind::kInvalid;  // when error is set
  bool ok() const { return !error.has_value(); }
};

class Node;  // the parsed tree, private to src/expr

class Expression {
 public:
  // Parses `text`; on failure returns nullopt and sets *error (offset into `text`).
  static std::optional<Expression> Parse(std::string_view text, ExprError* error);

  // Load-time check against the roots that may be read: unknown variables,
  // and literal type errors (`"a" - 1`). Every problem, in text order.
  std::vector<ExprError> Check(const CheckScope& scope) const;

  EvalResult Evaluate(const Variables& variables, const EvalLimits& limits = {}) const;

  // Truthiness as Jinja: false, null, 0, "", [] and {} are false.
  static bool Truthy(const nlohmann::json& value);

  std::vector<VariableRead> Reads() const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

// The names of every filter/function, for "did you mean" and for docs.
const std::vector<std::string>& FilterNames();

// The names of every test (`x is defined`), for "did you mean" and for docs.
const std::vector<std::string>& TestNames();

// A value as text, the way templates render it: a string as it is, null as
// nothing, anything else as compact JSON (invalid UTF-8 replaced).
std::string ToText(const nlohmann::json& value);

}  // namespace flowrun::expr
