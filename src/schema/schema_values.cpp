// Numbers compare as int64/uint64 when both are integers and as long double
// otherwise (its 64-bit mantissa holds every int64 and uint64 exactly).
#include "schema/schema_values.h"

#include <algorithm>
#include <cmath>

#include "core/json_escape.h"

namespace flowrun::schema_internal {
namespace {

using nlohmann::json;

bool IsIdentifier(std::string_view key) {
  if (key.empty()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Cuts `text` to at most `cap` bytes at a code point boundary.
std::string_view CutUtf8(std::string_view text, size_t cap) {
  if (text.size() <= cap) return text;
  size_t end = cap;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// Writes `value` into `out`, stopping once `out` is longer than `limit`.
void WriteValue(const json& value, size_t limit, std::string& out) {
  if (out.size() > limit) return;
  switch (value.type()) {
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      AppendJsonString(CutUtf8(text, limit + 1), out);
      break;
    }
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value) {
        if (out.size() > limit) return;
        if (!first) out += ',';
        first = false;
        WriteValue(item, limit, out);
      }
      out += ']';
      break;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (out.size() > limit) return;
        if (!first) out += ',';
        first = false;
        AppendJsonString(CutUtf8(key, limit + 1), out);
        out += ':';
        WriteValue(item, limit, out);
      }
      out += '}';
      break;
    }
    default:
      out += value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

}  // namespace

int CompareNumbers(const json& a, const json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool a_unsigned = a.is_number_unsigned(), b_unsigned = b.is_number_unsigned();
    if (a_unsigned && b_unsigned) {
      auto x = a.get<uint64_t>(), y = b.get<uint64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (!a_unsigned && !b_unsigned) {
      auto x = a.get<int64_t>(), y = b.get<int64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    // One unsigned, one signed: a negative signed one is the smaller.
    if (a_unsigned) {
      const int64_t y = b.get<int64_t>();
      if (y < 0) return 1;
      const uint64_t x = a.get<uint64_t>(), uy = static_cast<uint64_t>(y);
      return x < uy ? -1 : x > uy ? 1 : 0;
    }
    return -CompareNumbers(b, a);
  }
  const long double x = a.get<long double>(), y = b.get<long double>();
  return x < y ? -1 : x > y ? 1 : 0;
}

bool IsMultipleOf(const json& value, const json& divisor) {
  if (value.is_number_integer() && divisor.is_number_integer()) {
    const uint64_t d = divisor.get<uint64_t>();  // > 0, checked when the schema compiled
    const uint64_t v =
        value.is_number_unsigned() ? value.get<uint64_t>() : static_cast<uint64_t>(-(value.get<int64_t>() + 1)) + 1;
    return v % d == 0;
  }
  const long double quotient = value.get<long double>() / divisor.get<long double>();
  if (!std::isfinite(quotient)) return false;
  const long double nearest = std::round(quotient);
  return std::fabs(quotient - nearest) <= 1e-9L * std::max(1.0L, std::fabs(nearest));
}

bool JsonEqual(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!JsonEqual(a[i], b[i])) return false;
      }
      return true;
    }
    case json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !JsonEqual(it.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

bool IsIntegral(const json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  const double number = value.get<double>();
  return std::isfinite(number) && std::floor(number) == number;
}

size_t CodePointCount(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

std::string AbbreviateValue(const json& value) {
  std::string out;
  WriteValue(value, kValueTextCap, out);
  if (out.size() <= kValueTextCap) return out;
  return std::string(CutUtf8(out, kValueTextCap - 3)) + "...";
}

std::string DescribeType(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    default:
      return "a number";
  }
}

std::string FormatInstancePath(const std::vector<JsonPathElement>& path) {
  std::string out = "$";
  for (const auto& element : path) {
    if (const auto* index = std::get_if<size_t>(&element)) {
      out += "[" + std::to_string(*index) + "]";
    } else if (const auto& key = std::get<std::string>(element); IsIdentifier(key) && key.size() <= kValueTextCap) {
      out += "." + key;
    } else if (key.size() > kValueTextCap) {  // a model's runaway key: cut like a value
      out += '[';
      AppendJsonString(std::string(CutUtf8(key, kValueTextCap - 4)) + "...", out);
      out += ']';
    } else {
      out += '[';
      AppendJsonString(key, out);
      out += ']';
    }
  }
  return out;
}

std::string FormatSchemaPath(const std::vector<JsonPathElement>& path) {
  std::string out;
  for (const auto& element : path) {
    if (const auto* index = std::get_if<size_t>(&element)) {
      out += "[" + std::to_string(*index) + "]";
    } else if (const auto& key = std::get<std::string>(element);
               IsIdentifier(key) || (key.size() > 1 && key[0] == '$' && IsIdentifier(key.substr(1)))) {
      if (!out.empty()) out += '.';
      out += key;
    } else {
      out += '[';
      AppendJsonString(key, out);
      out += ']';
    }
  }
  return out;
}

}  // namespace flowrun::schema_internal
