// Evaluation of a Node tree: paths, slices, operators, calls and tests.
#include "expr/evaluator.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "expr/filters.h"
#include "expr/operators.h"
#include "expr/values.h"

namespace flowrun::expr {
namespace {

struct DepthGuard {
  DepthGuard(size_t& depth, const Evaluator& evaluator) : depth_(depth) {
    if (++depth_ > evaluator.limits().max_depth) {
      evaluator.Fail("expression is nested deeper than " + std::to_string(evaluator.limits().max_depth) +
                         " levels (max_depth)",
                     EvalResult::ErrorKind::kLimit);
    }
  }
  ~DepthGuard() { --depth_; }
  size_t& depth_;
};

// Python's slice bounds for a sequence of `size` items.
std::vector<size_t> SliceIndices(Evaluator& evaluator, const Node& node, size_t size) {
  auto bound = [&](size_t child, const char* what) -> std::optional<int64_t> {
    if (!node.children[child]) return std::nullopt;
    Value value = evaluator.EvalDefined(*node.children[child]);
    if (value.get().is_null()) return std::nullopt;
    Number number;
    if (!ToNumber(value.get(), &number) || !number.integer) {
      evaluator.Fail(std::string("a slice ") + what + " must be an integer, got " + KindName(KindOf(value.get())));
    }
    return number.i;
  };
  const std::optional<int64_t> start = bound(1, "start"), stop = bound(2, "stop"), step_value = bound(3, "step");
  const int64_t step = step_value.value_or(1);
  if (step == 0) evaluator.Fail("a slice step cannot be zero");
  const int64_t length = static_cast<int64_t>(size);
  auto clamp = [&](std::optional<int64_t> index, int64_t if_missing) {
    if (!index) return if_missing;
    int64_t i = *index < 0 ? std::max<int64_t>(*index, -length - 1) + length : *index;
    if (step > 0) return std::clamp<int64_t>(i, 0, length);
    return std::clamp<int64_t>(i, -1, length - 1);
  };
  std::vector<size_t> indices;
  const int64_t first = clamp(start, step > 0 ? 0 : length - 1);
  const int64_t last = clamp(stop, step > 0 ? length : -1);
  for (int64_t i = first; step > 0 ? i < last : i > last; i += step) {
    indices.push_back(static_cast<size_t>(i));
    if (step > 0 ? i > INT64_MAX - step : i < INT64_MIN - step) break;
  }
  return indices;
}

}  // namespace

void Evaluator::CheckSize(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    Fail("expression output is larger than " + std::to_string(limits_.max_output_bytes) + " bytes (max_output_bytes)",
         EvalResult::ErrorKind::kLimit);
  }
}

Value Evaluator::EvalDefined(const Node& node) {
  Value value = Eval(node);
  if (value.undefined()) Fail(value.missing(), EvalResult::ErrorKind::kNotSet);
  return value;
}

Value Evaluator::Eval(const Node& node) {
  DepthGuard guard(depth_, *this);
  switch (node.kind) {
    case NodeKind::kLiteral:
      return Value::Ref(&node.value);
    case NodeKind::kList: {
      nlohmann::json list = nlohmann::json::array();
      size_t bytes = 8;
      for (const auto& child : node.children) {
        Value item = EvalDefined(*child);
        bytes += 8 + ApproxBytes(item.get());
        CheckSize(bytes);
        list.push_back(item.Take());
      }
      return Value::Own(std::move(list));
    }
    case NodeKind::kObject: {
      nlohmann::json object = nlohmann::json::object();
      size_t bytes = 8;
      for (size_t i = 0; i < node.children.size(); ++i) {
        Value item = EvalDefined(*node.children[i]);
        bytes += 8 + node.keys[i].size() + ApproxBytes(item.get());
        CheckSize(bytes);
        object[node.keys[i]] = item.Take();
      }
      return Value::Own(std::move(object));
    }
    case NodeKind::kName:
      return EvalName(node);
    case NodeKind::kAttribute:
    case NodeKind::kIndex:
      return EvalAccess(node);
    case NodeKind::kSlice:
      return EvalSlice(node);
    case NodeKind::kUnary: {
      Value operand = EvalDefined(*node.children[0]);
      if (node.op == Op::kNot) return Value::Own(!Expression::Truthy(operand.get()));
      return Value::Own(ApplyUnary(*this, node.op, operand.get()));
    }
    case NodeKind::kBinary:
      return EvalBinary(node);
    case NodeKind::kConditional: {
      const bool condition = Expression::Truthy(EvalDefined(*node.children[1]).get());
      return Eval(*node.children[condition ? 0 : 2]);
    }
    case NodeKind::kCall:
      return EvalCall(node);
    case NodeKind::kTest: {
      Value value = TestGuards(node.name) ? Eval(*node.children[0]) : EvalDefined(*node.children[0]);
      return Value::Own(ApplyTest(*this, node.name, value) != node.negated);
    }
  }
  Fail("unknown expression node");
}

Value Evaluator::EvalName(const Node& node) {
  const nlohmann::json* value = variables_.Find(node.name);
  if (value == nullptr) return Value::Undefined("'" + node.name + "' is not set");
  return Value::Ref(value);
}

Value Evaluator::EvalAccess(const Node& node) {
  Value base = Eval(*node.children[0]);
  if (base.undefined()) return base;
  Value key_value = node.kind == NodeKind::kIndex ? EvalDefined(*node.children[1]) : Value::Ref(&node.value);
  const nlohmann::json& key = key_value.get();
  const nlohmann::json& whole = base.get();
  auto not_set = [&] { return Value::Undefined("'" + std::string(SourceOf(node)) + "' is not set"); };
  auto wrong_kind = [&] {
    return Value::Undefined("'" + std::string(SourceOf(node)) + "' is not set ('" +
                            std::string(SourceOf(*node.children[0])) + "' is " + KindName(KindOf(whole)) + ")");
  };
  if (whole.is_object()) {
    if (!key.is_string() && !(node.kind == NodeKind::kAttribute && key.is_number_integer())) {
      Fail(std::string("an object key must be a string, got ") + KindName(KindOf(key)));
    }
    auto found = key.is_string() ? whole.find(key.get_ref<const std::string&>())
                                 : whole.find(std::to_string(key.get<int64_t>()));
    if (found == whole.end()) return not_set();
    return ElementOf(base, *found);
  }
  if (!whole.is_array() && !whole.is_string()) return wrong_kind();
  if (key.is_string()) return wrong_kind();
  Number number;
  if (!ToNumber(key, &number) || !number.integer) {
    Fail(std::string("an index must be an integer, got ") + KindName(KindOf(key)));
  }
  if (whole.is_array()) {
    const int64_t size = static_cast<int64_t>(whole.size());
    const int64_t index = number.i < 0 ? number.i + size : number.i;
    if (index < 0 || index >= size) return not_set();
    return ElementOf(base, whole[static_cast<size_t>(index)]);
  }
  const std::string& text = whole.get_ref<const std::string&>();
  const std::vector<size_t> starts = CodePointStarts(text);
  const int64_t size = static_cast<int64_t>(starts.size());
  const int64_t index = number.i < 0 ? number.i + size : number.i;
  if (index < 0 || index >= size) return not_set();
  const size_t begin = starts[static_cast<size_t>(index)];
  const size_t end = index + 1 < size ? starts[static_cast<size_t>(index) + 1] : text.size();
  return Value::Own(text.substr(begin, end - begin));
}

Value Evaluator::EvalSlice(const Node& node) {
  Value base = EvalDefined(*node.children[0]);
  const nlohmann::json& whole = base.get();
  if (whole.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t index : SliceIndices(*this, node, whole.size())) out.push_back(whole[index]);
    return Value::Own(std::move(out));
  }
  if (!whole.is_string()) Fail(std::string("cannot slice ") + KindName(KindOf(whole)));
  const std::string& text = whole.get_ref<const std::string&>();
  const std::vector<size_t> starts = CodePointStarts(text);
  std::string out;
  for (size_t index : SliceIndices(*this, node, starts.size())) {
    const size_t end = index + 1 < starts.size() ? starts[index + 1] : text.size();
    out.append(text, starts[index], end - starts[index]);
  }
  return Value::Own(std::move(out));
}

Value Evaluator::EvalBinary(const Node& node) {
  Value left = EvalDefined(*node.children[0]);
  if (node.op == Op::kAnd || node.op == Op::kOr) {
    // As Jinja: the operand that decided (`x or "none"` is x when x is truthy).
    if (Expression::Truthy(left.get()) == (node.op == Op::kOr)) return left;
    return EvalDefined(*node.children[1]);
  }
  Value right = EvalDefined(*node.children[1]);
  return Value::Own(ApplyBinary(*this, node.op, left.get(), right.get()));
}

void Evaluator::CheckArity(const Node& call) const {
  const FilterSpec& spec = *call.filter;
  const size_t given = call.children.size();
  if (given < spec.min_args() || given > spec.max_args()) {
    Fail(ArityError(spec, call.as_filter, call.as_filter ? given - 1 : given));
  }
}

Value Evaluator::EvalCall(const Node& node) {
  CheckArity(node);
  return node.filter->fn(*this, node);
}

std::optional<size_t> Evaluator::EvalCount(const Node& node) {
  if (node.kind != NodeKind::kCall || node.filter->count == nullptr) return std::nullopt;
  DepthGuard guard(depth_, *this);  // as Eval of the call
  CheckArity(node);
  return node.filter->count(*this, node);
}

}  // namespace flowrun::expr
