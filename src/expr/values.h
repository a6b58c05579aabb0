// Helpers over JSON values shared by the expression checker, evaluator and
// filters: kinds (for type checks and messages), numbers, UTF-8 code
// points and size estimates. Pure functions; thread-safe. Private to src/expr.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace flowrun::expr {

// A set of JSON kinds: what a value is, or what an expression may produce.
using Kinds = unsigned;
inline constexpr Kinds kNullKind = 1, kBoolKind = 2, kNumberKind = 4, kStringKind = 8, kListKind = 16,
                       kObjectKind = 32, kAnyKind = 63;

Kinds KindOf(const nlohmann::json& value);
bool IsSingleKind(Kinds kinds);
// "null", "a boolean", "a number", "a string", "a list", "an object" (the lowest kind in the set).
const char* KindName(Kinds kinds);
// "a string", "a string or a list", "a string, a list or an object".
std::string KindsText(Kinds kinds);

// A JSON number as an integer (when it fits in int64) or a double.
struct Number {
  bool integer = true;
  int64_t i = 0;
  double d = 0;
  double AsDouble() const { return integer ? static_cast<double>(i) : d; }
};
// The number in `value`; false when it is not a number.
bool ToNumber(const nlohmann::json& value, Number* number);
nlohmann::json FromNumber(const Number& number);

// UTF-8: the byte offset where each code point starts (invalid bytes count as one each).
std::vector<size_t> CodePointStarts(std::string_view text);
size_t CodePointCount(std::string_view text);

// About how many bytes a value takes (strings by length, 8 per scalar or element).
size_t ApproxBytes(const nlohmann::json& value);

// Compact JSON; invalid UTF-8 in strings is replaced, never an exception.
std::string DumpJson(const nlohmann::json& value, int indent = -1);

// Appends ToText(value) (expression.h) to *out: integers and booleans
// written directly, as json::dump writes them, other non-strings dumped.
void AppendText(const nlohmann::json& value, std::string* out);

}  // namespace flowrun::expr
