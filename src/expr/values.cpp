// Kinds, numbers, UTF-8 and sizes of JSON values.
#include "expr/values.h"

#include <charconv>
#include <limits>

namespace flowrun::expr {

Kinds KindOf(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return kNullKind;
    case nlohmann::json::value_t::boolean: return kBoolKind;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return kNumberKind;
    case nlohmann::json::value_t::string: return kStringKind;
    case nlohmann::json::value_t::array: return kListKind;
    case nlohmann::json::value_t::object: return kObjectKind;
    default: return kNullKind;  // discarded / binary: never produced from text
  }
}

bool IsSingleKind(Kinds kinds) { return kinds != 0 && (kinds & (kinds - 1)) == 0; }

const char* KindName(Kinds kinds) {
  if (kinds & kNullKind) return "null";
  if (kinds & kBoolKind) return "a boolean";
  if (kinds & kNumberKind) return "a number";
  if (kinds & kStringKind) return "a string";
  if (kinds & kListKind) return "a list";
  return "an object";
}

std::string KindsText(Kinds kinds) {
  std::vector<std::string> names;
  for (Kinds kind = 1; kind <= kObjectKind; kind <<= 1) {
    if (kinds & kind) names.push_back(KindName(kind));
  }
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += names[i];
  }
  return text;
}

bool ToNumber(const nlohmann::json& value, Number* number) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    *number = {true, value.get<int64_t>(), 0};
  } else if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      *number = {true, static_cast<int64_t>(u), 0};
    } else {
      *number = {false, 0, static_cast<double>(u)};
    }
  } else if (value.is_number_float()) {
    *number = {false, 0, value.get<double>()};
  } else {
    return false;
  }
  return true;
}

nlohmann::json FromNumber(const Number& number) {
  return number.integer ? nlohmann::json(number.i) : nlohmann::json(number.d);
}

std::vector<size_t> CodePointStarts(std::string_view text) {
  std::vector<size_t> starts;
  starts.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 || starts.empty()) starts.push_back(i);
  }
  return starts;
}

size_t CodePointCount(std::string_view text) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 || i == 0) ++count;
  }
  return count;
}

size_t ApproxBytes(const nlohmann::json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>().size();
  if (value.is_array()) {
    size_t total = 8;
    for (const auto& item : value) total += 8 + ApproxBytes(item);
    return total;
  }
  if (value.is_object()) {
    size_t total = 8;
    for (const auto& [key, item] : value.items()) total += 8 + key.size() + ApproxBytes(item);
    return total;
  }
  return 8;
}

std::string DumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendText(const nlohmann::json& value, std::string* out) {
  char digits[24];  // an int64 or a uint64 in decimal
  switch (value.type()) {
    case nlohmann::json::value_t::string:
      out->append(value.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::null:
      return;
    case nlohmann::json::value_t::boolean:
      out->append(value.get<bool>() ? "true" : "false");
      return;
    case nlohmann::json::value_t::number_integer:
      out->append(digits, std::to_chars(digits, digits + sizeof digits, value.get<int64_t>()).ptr);
      return;
    case nlohmann::json::value_t::number_unsigned:
      out->append(digits, std::to_chars(digits, digits + sizeof digits, value.get<uint64_t>()).ptr);
      return;
    default:  // floats (json's own shortest form), lists and objects
      out->append(DumpJson(value));
  }
}

}  // namespace flowrun::expr
