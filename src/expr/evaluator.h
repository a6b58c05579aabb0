// The evaluator: walks a Node tree against a run's Variables. One Evaluator
// per evaluation (it holds the current depth), so it is not shared between
// threads; the tree and the variables are only read. Errors are thrown as
// EvalFailure inside src/expr and become EvalResult::error at the API.
// Private to src/expr.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "expr/expression.h"
#include "expr/node.h"

namespace flowrun::expr {

struct EvalFailure {
  std::string message;
  EvalResult::ErrorKind kind = EvalResult::ErrorKind::kInvalid;
};

// What a node evaluates to: a borrowed value (from the variables or the
// tree, which outlive the evaluation), an owned one, or undefined (a path
// that is not set), which only `default` and `is defined` may look at.
// Only an owned value holds a json (most values are borrowed: no json to
// make and destroy for them).
class Value {
 public:
  static Value Ref(const nlohmann::json* value) {
    Value result;
    result.ref_ = value;
    return result;
  }
  static Value Own(nlohmann::json value) {
    Value result;
    result.owned_.emplace(std::move(value));
    return result;
  }
  static Value Undefined(std::string message) {
    Value result;
    result.missing_ = std::move(message);
    return result;
  }

  bool undefined() const { return !missing_.empty(); }
  bool borrowed() const { return ref_ != nullptr; }
  const std::string& missing() const { return missing_; }
  const nlohmann::json& get() const {
    if (ref_ != nullptr) return *ref_;
    return owned_ ? *owned_ : Null();
  }
  nlohmann::json Take() {
    if (ref_ != nullptr) return *ref_;
    return owned_ ? std::move(*owned_) : nullptr;
  }

 private:
  static const nlohmann::json& Null() {
    static const nlohmann::json null;
    return null;
  }

  const nlohmann::json* ref_ = nullptr;
  std::optional<nlohmann::json> owned_;
  std::string missing_;
};

// A part of `whole` (an element, a member) as a Value: borrowed when
// `whole` is, else a copy.
inline Value ElementOf(const Value& whole, const nlohmann::json& element) {
  return whole.borrowed() ? Value::Ref(&element) : Value::Own(element);
}

class Evaluator {
 public:
  Evaluator(std::string_view text, const Variables& variables, const EvalLimits& limits)
      : text_(text), variables_(variables), limits_(limits) {}

  // The node's value; undefined values are returned, not thrown.
  Value Eval(const Node& node);
  // The node's value; an undefined one is an error (its message).
  Value EvalDefined(const Node& node);
  // How many items the node's value has, counted without building it, when
  // the node is a call whose filter can count (FilterSpec::count: `x |
  // split | length` makes no list); nullopt otherwise. The same checks and
  // errors as evaluating the call.
  std::optional<size_t> EvalCount(const Node& node);

  [[noreturn]] void Fail(std::string message,
                         EvalResult::ErrorKind kind = EvalResult::ErrorKind::kInvalid) const {
    throw EvalFailure{std::move(message), kind};
  }
  // Fails when a value being built would exceed max_output_bytes.
  void CheckSize(size_t bytes) const;
  const EvalLimits& limits() const { return limits_; }
  std::string_view SourceOf(const Node& node) const { return text_.substr(node.where.offset, node.where.length); }

 private:
  Value EvalName(const Node& node);
  Value EvalAccess(const Node& node);
  Value EvalSlice(const Node& node);
  Value EvalBinary(const Node& node);
  Value EvalCall(const Node& node);
  void CheckArity(const Node& call) const;

  std::string_view text_;
  const Variables& variables_;
  const EvalLimits& limits_;
  size_t depth_ = 0;
};

}  // namespace flowrun::expr
