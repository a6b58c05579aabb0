// Arithmetic, comparison, `in` and `~` over JSON values, and their type rules.
#include "expr/operators.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace flowrun::expr {
namespace {

bool IsArithmetic(Op op) {
  return op == Op::kAdd || op == Op::kSub || op == Op::kMul || op == Op::kDiv || op == Op::kFloorDiv ||
         op == Op::kMod;
}
bool IsOrdering(Op op) { return op == Op::kLt || op == Op::kLe || op == Op::kGt || op == Op::kGe; }

// Whether `left op right` works for these single kinds.
bool Valid(Op op, Kinds left, Kinds right) {
  switch (op) {
    case Op::kAdd:
      return left == right && (left & (kNumberKind | kStringKind | kListKind));
    case Op::kSub:
    case Op::kDiv:
    case Op::kFloorDiv:
    case Op::kMod:
      return left == kNumberKind && right == kNumberKind;
    case Op::kMul:
      return (left == kNumberKind && (right & (kNumberKind | kStringKind | kListKind))) ||
             (right == kNumberKind && (left & (kStringKind | kListKind)));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
      return left == right && (left & (kNumberKind | kStringKind));
    case Op::kIn:
    case Op::kNotIn:
      return right == kStringKind ? left == kStringKind : (right & (kListKind | kObjectKind)) != 0;
    default:
      return true;
  }
}

// The kinds each side of an operator may be on its own.
Kinds SideKinds(Op op, bool left) {
  if (IsArithmetic(op)) {
    return op == Op::kAdd || op == Op::kMul ? kNumberKind | kStringKind | kListKind : kNumberKind;
  }
  if (IsOrdering(op)) return kNumberKind | kStringKind;
  if (op == Op::kIn || op == Op::kNotIn) return left ? kAnyKind : kStringKind | kListKind | kObjectKind;
  return kAnyKind;
}

std::string TwoKinds(Op op, Kinds left, Kinds right) {
  if (IsOrdering(op)) return std::string("cannot compare ") + KindName(left) + " with " + KindName(right);
  return std::string("cannot apply '") + OpText(op) + "' to " + KindName(left) + " and " + KindName(right);
}

std::string OneKind(Op op, Kinds kinds) {
  if (IsOrdering(op)) return std::string("cannot compare ") + KindName(kinds);
  return std::string("cannot apply '") + OpText(op) + "' to " + KindName(kinds);
}

int64_t RepeatCount(Evaluator& evaluator, const nlohmann::json& count, const char* what) {
  Number number;
  ToNumber(count, &number);
  if (!number.integer) evaluator.Fail(std::string("a ") + what + " can only be repeated a whole number of times");
  return std::max<int64_t>(number.i, 0);
}

nlohmann::json Repeat(Evaluator& evaluator, const nlohmann::json& value, int64_t count) {
  const size_t unit = value.is_string() ? value.get_ref<const std::string&>().size() : ApproxBytes(value);
  if (count > 0 && unit > 0 && static_cast<uint64_t>(count) > evaluator.limits().max_output_bytes / unit) {
    evaluator.CheckSize(evaluator.limits().max_output_bytes + 1);
  }
  if (value.is_string()) {
    std::string out;
    out.reserve(unit * static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out += value.get_ref<const std::string&>();
    return out;
  }
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < count; ++i) {
    for (const auto& item : value) out.push_back(item);
  }
  return out;
}

int Compare(const nlohmann::json& left, const nlohmann::json& right) {
  if (left.is_string()) {
    return left.get_ref<const std::string&>().compare(right.get_ref<const std::string&>());
  }
  Number a, b;
  ToNumber(left, &a);
  ToNumber(right, &b);
  if (a.integer && b.integer) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  const double x = a.AsDouble(), y = b.AsDouble();
  return x < y ? -1 : x > y ? 1 : 0;
}

nlohmann::json Arithmetic(Evaluator& evaluator, Op op, const Number& a, const Number& b) {
  if ((op == Op::kDiv || op == Op::kFloorDiv || op == Op::kMod) && b.AsDouble() == 0) {
    evaluator.Fail("division by zero");
  }
  if (a.integer && b.integer && op != Op::kDiv) {
    int64_t result = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd: overflow = __builtin_add_overflow(a.i, b.i, &result); break;
      case Op::kSub: overflow = __builtin_sub_overflow(a.i, b.i, &result); break;
      case Op::kMul: overflow = __builtin_mul_overflow(a.i, b.i, &result); break;
      case Op::kFloorDiv:
        if (a.i == std::numeric_limits<int64_t>::min() && b.i == -1) {
          overflow = true;
        } else {
          result = a.i / b.i;
          if (a.i % b.i != 0 && ((a.i < 0) != (b.i < 0))) --result;
        }
        break;
      case Op::kMod:
        if (b.i == -1) {
          result = 0;
        } else {
          result = a.i % b.i;
          if (result != 0 && ((result < 0) != (b.i < 0))) result += b.i;
        }
        break;
      default: break;
    }
    if (!overflow) return result;
  }
  const double x = a.AsDouble(), y = b.AsDouble();
  switch (op) {
    case Op::kAdd: return x + y;
    case Op::kSub: return x - y;
    case Op::kMul: return x * y;
    case Op::kDiv: return x / y;
    case Op::kFloorDiv: return std::floor(x / y);
    case Op::kMod: {
      double result = std::fmod(x, y);
      if (result != 0 && ((result < 0) != (y < 0))) result += y;
      return result;
    }
    default: return nullptr;
  }
}

}  // namespace

const char* OpText(Op op) {
  switch (op) {
    case Op::kOr: return "or";
    case Op::kAnd: return "and";
    case Op::kNot: return "not";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kIn: return "in";
    case Op::kNotIn: return "not in";
    case Op::kConcat: return "~";
    case Op::kAdd: return "+";
    case Op::kSub:
    case Op::kNeg: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kFloorDiv: return "//";
    case Op::kMod: return "%";
    case Op::kPos: return "+";
    case Op::kNone: break;
  }
  return "?";
}

std::optional<std::string> BinaryTypeError(Op op, Kinds left, Kinds right) {
  for (Kinds l = 1; l <= kObjectKind; l <<= 1) {
    for (Kinds r = 1; r <= kObjectKind; r <<= 1) {
      if ((left & l) && (right & r) && Valid(op, l, r)) return std::nullopt;
    }
  }
  if (op == Op::kIn || op == Op::kNotIn) {
    if (!(right & SideKinds(op, false))) {
      return std::string("'") + OpText(op) + "' needs a string, a list or an object on the right, got " +
             KindName(right);
    }
    return std::string("'") + OpText(op) + "' with a string on the right needs a string on the left, got " +
           KindName(left & ~kStringKind);
  }
  if (IsSingleKind(left) && IsSingleKind(right)) return TwoKinds(op, left, right);
  if (!(left & SideKinds(op, true))) return OneKind(op, left);
  if (!(right & SideKinds(op, false))) return OneKind(op, right);
  return TwoKinds(op, left, right);
}

std::optional<std::string> UnaryTypeError(Op op, Kinds operand) {
  if (op == Op::kNot || (operand & kNumberKind)) return std::nullopt;
  return OneKind(op, operand);
}

Kinds BinaryResultKinds(Op op, Kinds left, Kinds right) {
  switch (op) {
    case Op::kOr:
    case Op::kAnd: return left | right;
    case Op::kConcat: return kStringKind;
    case Op::kAdd: {
      const Kinds kinds = (left | right) & (kNumberKind | kStringKind | kListKind);
      return kinds != 0 ? kinds : kAnyKind;
    }
    case Op::kSub:
    case Op::kDiv:
    case Op::kFloorDiv:
    case Op::kMod: return kNumberKind;
    case Op::kMul: return kNumberKind | ((left | right) & (kStringKind | kListKind));
    default: return kBoolKind;
  }
}

nlohmann::json ApplyBinary(Evaluator& evaluator, Op op, const nlohmann::json& left, const nlohmann::json& right) {
  if (op == Op::kEq) return left == right;
  if (op == Op::kNe) return left != right;
  if (op == Op::kConcat) {
    std::string text = ToText(left);
    AppendText(right, &text);
    evaluator.CheckSize(text.size());
    return nlohmann::json(std::move(text));
  }
  // Values have one kind each: BinaryTypeError's search over kinds is only for the message.
  const Kinds left_kind = KindOf(left), right_kind = KindOf(right);
  if (!Valid(op, left_kind, right_kind)) evaluator.Fail(*BinaryTypeError(op, left_kind, right_kind));
  switch (op) {
    case Op::kLt: return Compare(left, right) < 0;
    case Op::kLe: return Compare(left, right) <= 0;
    case Op::kGt: return Compare(left, right) > 0;
    case Op::kGe: return Compare(left, right) >= 0;
    case Op::kIn:
    case Op::kNotIn: {
      bool found = false;
      if (right.is_string()) {
        found = right.get_ref<const std::string&>().find(left.get_ref<const std::string&>()) != std::string::npos;
      } else if (right.is_array()) {
        found = std::find(right.begin(), right.end(), left) != right.end();
      } else {
        found = left.is_string() && right.contains(left.get_ref<const std::string&>());
      }
      return op == Op::kIn ? found : !found;
    }
    default: break;
  }
  if (op == Op::kMul && !(left.is_number() && right.is_number())) {
    const nlohmann::json& repeated = left.is_number() ? right : left;
    const nlohmann::json& count = left.is_number() ? left : right;
    return Repeat(evaluator, repeated, RepeatCount(evaluator, count, repeated.is_string() ? "string" : "list"));
  }
  if (op == Op::kAdd && left.is_string()) {
    const auto& a = left.get_ref<const std::string&>();
    const auto& b = right.get_ref<const std::string&>();
    evaluator.CheckSize(a.size() + b.size());
    return a + b;
  }
  if (op == Op::kAdd && left.is_array()) {
    evaluator.CheckSize(ApproxBytes(left) + ApproxBytes(right));
    nlohmann::json out = left;
    out.insert(out.end(), right.begin(), right.end());
    return out;
  }
  Number a, b;
  ToNumber(left, &a);
  ToNumber(right, &b);
  return Arithmetic(evaluator, op, a, b);
}

nlohmann::json ApplyUnary(Evaluator& evaluator, Op op, const nlohmann::json& operand) {
  if (auto error = UnaryTypeError(op, KindOf(operand))) evaluator.Fail(*error);
  Number number;
  ToNumber(operand, &number);
  if (op == Op::kPos) return FromNumber(number);
  if (number.integer && number.i != std::numeric_limits<int64_t>::min()) return -number.i;
  return -number.AsDouble();
}

}  // namespace flowrun::expr
