// Validate: applies a compiled schema to an instance. One Validator per
// call holds the instance path, the violations so far and the bounds:
// subschemas applied at most kMaxSchemaDepth deep, at most
// kMaxValidationSteps applications in all; hitting either stops the
// validation with one violation naming the bound. Inside anyOf, oneOf and
// not, alternatives are checked without reporting and stop at their first
// failure; their result is reported as one violation of the keyword.
#include <string>

#include "schema/json_schema.h"
#include "schema/schema_node.h"
#include "schema/schema_values.h"

namespace flowrun {

using nlohmann::json;
using schema_internal::AbbreviateValue;
using schema_internal::Node;

namespace {

std::string Plural(uint64_t count, const char* noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string ExpectedTypes(uint8_t types) {
  using namespace schema_internal;
  if (types & kNumber) types &= ~kInteger;
  static const std::pair<uint8_t, const char*> kNames[] = {
      {kObject, "an object"},   {kArray, "an array"},    {kString, "a string"}, {kNumber, "a number"},
      {kInteger, "an integer"}, {kBoolean, "a boolean"}, {kNull, "null"}};
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames) {
    if (types & bit) names.push_back(name);
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool TypeMatches(uint8_t types, const json& value) {
  using namespace schema_internal;
  switch (value.type()) {
    case json::value_t::null:
      return types & kNull;
    case json::value_t::boolean:
      return types & kBoolean;
    case json::value_t::object:
      return types & kObject;
    case json::value_t::array:
      return types & kArray;
    case json::value_t::string:
      return types & kString;
    default:
      return (types & kNumber) || ((types & kInteger) && IsIntegral(value));
  }
}

std::string EnumList(const std::vector<json>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    if (out.size() > 2 * schema_internal::kValueTextCap) return out + "...";
    out += AbbreviateValue(values[i]);
  }
  return out;
}

class Validator {
 public:
  explicit Validator(size_t max_errors) : max_errors_(max_errors == 0 ? 1 : max_errors) {}

  // Whether `value` is valid against `node`; when `report`, each way it is
  // not goes to the violations.
  bool Check(const Node& node, const json& value, size_t depth, bool report) {
    if (stopped_) return false;
    if (depth > kMaxSchemaDepth) {
      return Stop("depth", "schema nesting deeper than " + std::to_string(kMaxSchemaDepth));
    }
    if (++steps_ > kMaxValidationSteps) {
      return Stop("steps", "validation needs more than " + std::to_string(kMaxValidationSteps) + " steps");
    }
    if (node.is_boolean) {
      if (!node.boolean_value && report) Report("false", "no value is allowed here");
      return node.boolean_value;
    }
    bool ok = true;
    // Records a failure; false when checking should stop (not reporting, or stopped).
    auto fail = [&](const char* keyword, std::string message) {
      ok = false;
      if (report) Report(keyword, std::move(message));
      return report && !stopped_;
    };
    auto sub = [&](const Node& child) {
      if (!Check(child, value, depth + 1, report)) ok = false;
      return ok || (report && !stopped_);
    };

    if (node.types != 0 && !TypeMatches(node.types, value)) {
      if (!fail("type", "expected " + ExpectedTypes(node.types) + ", got " + schema_internal::DescribeType(value))) {
        return false;
      }
    }
    if (node.enum_values && !InEnum(*node.enum_values, value)) {
      std::string message = node.enum_values->empty()
                                ? "no value is allowed (the enum is empty)"
                                : AbbreviateValue(value) + " is not one of " + EnumList(*node.enum_values);
      if (!fail("enum", std::move(message))) return false;
    }
    if (node.const_value && !schema_internal::JsonEqual(*node.const_value, value)) {
      if (!fail("const", "expected " + AbbreviateValue(*node.const_value) + ", got " + AbbreviateValue(value))) {
        return false;
      }
    }
    if (value.is_number() && !CheckNumber(node, value, fail)) return false;
    if (value.is_string() && !CheckString(node, value, fail)) return false;
    if (value.is_array() && !CheckArray(node, value, depth, report, fail, ok)) return false;
    if (value.is_object() && !CheckObject(node, value, depth, report, fail, ok)) return false;

    if (node.ref != nullptr && !sub(*node.ref)) return false;
    for (const Node* child : node.all_of) {
      if (!sub(*child)) return false;
    }
    if (!node.any_of.empty()) {
      bool matched = false;
      for (const Node* child : node.any_of) {
        if ((matched = Check(*child, value, depth + 1, false))) break;
      }
      if (stopped_) return false;
      if (!matched && !fail("anyOf", "matches none of the " + std::to_string(node.any_of.size()) + " alternatives")) {
        return false;
      }
    }
    if (!node.one_of.empty()) {
      size_t matches = 0;
      for (const Node* child : node.one_of) {
        if (Check(*child, value, depth + 1, false) && ++matches == 2) break;
      }
      if (stopped_) return false;
      const std::string total = std::to_string(node.one_of.size());
      if (matches == 0 && !fail("oneOf", "matches none of the " + total + " alternatives")) return false;
      if (matches > 1 && !fail("oneOf", "matches more than one of the " + total + " alternatives")) return false;
    }
    if (node.not_schema != nullptr) {
      const bool matched = Check(*node.not_schema, value, depth + 1, false);
      if (stopped_) return false;
      if (matched && !fail("not", "must not match the schema in \"not\"")) return false;
    }
    return ok;
  }

  std::vector<SchemaViolation> Take() { return std::move(violations_); }

 private:
  static bool InEnum(const std::vector<json>& values, const json& value) {
    for (const auto& candidate : values) {
      if (schema_internal::JsonEqual(candidate, value)) return true;
    }
    return false;
  }

  template <typename Fail>
  static bool CheckNumber(const Node& node, const json& value, Fail& fail) {
    using schema_internal::CompareNumbers;
    const std::string text = AbbreviateValue(value);
    if (node.minimum && CompareNumbers(value, *node.minimum) < 0 &&
        !fail("minimum", text + " is less than the minimum " + AbbreviateValue(*node.minimum))) {
      return false;
    }
    if (node.maximum && CompareNumbers(value, *node.maximum) > 0 &&
        !fail("maximum", text + " is greater than the maximum " + AbbreviateValue(*node.maximum))) {
      return false;
    }
    if (node.exclusive_minimum && CompareNumbers(value, *node.exclusive_minimum) <= 0 &&
        !fail("exclusiveMinimum",
              text + " is not greater than the exclusive minimum " + AbbreviateValue(*node.exclusive_minimum))) {
      return false;
    }
    if (node.exclusive_maximum && CompareNumbers(value, *node.exclusive_maximum) >= 0 &&
        !fail("exclusiveMaximum",
              text + " is not less than the exclusive maximum " + AbbreviateValue(*node.exclusive_maximum))) {
      return false;
    }
    if (node.multiple_of && !schema_internal::IsMultipleOf(value, *node.multiple_of) &&
        !fail("multipleOf", text + " is not a multiple of " + AbbreviateValue(*node.multiple_of))) {
      return false;
    }
    return true;
  }

  template <typename Fail>
  static bool CheckString(const Node& node, const json& value, Fail& fail) {
    const auto& text = value.get_ref<const std::string&>();
    if (node.min_length || node.max_length) {
      const size_t length = schema_internal::CodePointCount(text);
      if (node.min_length && length < *node.min_length &&
          !fail("minLength",
                "expected at least " + Plural(*node.min_length, "character") + ", got " + std::to_string(length))) {
        return false;
      }
      if (node.max_length && length > *node.max_length &&
          !fail("maxLength",
                "expected at most " + Plural(*node.max_length, "character") + ", got " + std::to_string(length))) {
        return false;
      }
    }
    if (node.pattern) {
      auto result = node.pattern->regex->Search(text);
      const std::string pattern = AbbreviateValue(json(node.pattern->source));
      using Outcome = schema_internal::SchemaRegex::Outcome;
      if (result.outcome == Outcome::kNoMatch &&
          !fail("pattern", AbbreviateValue(value) + " does not match the pattern " + pattern)) {
        return false;
      }
      if (result.outcome == Outcome::kGaveUp &&
          !fail("pattern", "could not match " + AbbreviateValue(value) + " against the pattern " + pattern + ": " +
                               result.reason)) {
        return false;
      }
    }
    return true;
  }

  template <typename Fail>
  bool CheckArray(const Node& node, const json& value, size_t depth, bool report, Fail& fail, bool& ok) {
    const size_t size = value.size();
    if (node.min_items && size < *node.min_items &&
        !fail("minItems", "expected at least " + Plural(*node.min_items, "item") + ", got " + std::to_string(size))) {
      return false;
    }
    if (node.max_items && size > *node.max_items &&
        !fail("maxItems", "expected at most " + Plural(*node.max_items, "item") + ", got " + std::to_string(size))) {
      return false;
    }
    const size_t prefix = node.prefix_items.size();
    for (size_t i = 0; i < size && i < prefix; ++i) {
      if (!Item(*node.prefix_items[i], value, i, depth, report, ok)) return false;
    }
    if (node.items == nullptr || size <= prefix) return true;
    if (node.items->is_boolean && !node.items->boolean_value) {
      return fail("items", "expected at most " + Plural(prefix, "item") + ", got " + std::to_string(size));
    }
    for (size_t i = prefix; i < size; ++i) {
      if (!Item(*node.items, value, i, depth, report, ok)) return false;
    }
    return true;
  }

  template <typename Fail>
  bool CheckObject(const Node& node, const json& value, size_t depth, bool report, Fail& fail, bool& ok) {
    for (const auto& name : node.required) {
      if (!value.contains(name) && !fail("required", "missing required property " + AbbreviateValue(json(name)))) {
        return false;
      }
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string& key = it.key();
      bool known = false;
      if (auto property = node.properties.find(key); property != node.properties.end()) {
        known = true;
        if (!Member(*property->second, *it, key, depth, report, ok)) return false;
      }
      for (const auto& [pattern, child] : node.pattern_properties) {
        auto result = pattern.regex->Search(key);
        if (result.outcome == schema_internal::SchemaRegex::Outcome::kGaveUp &&
            !fail("patternProperties", "could not match the property name " + AbbreviateValue(json(key)) +
                                           " against the pattern " + AbbreviateValue(json(pattern.source)) + ": " +
                                           result.reason)) {
          return false;
        }
        if (result.outcome != schema_internal::SchemaRegex::Outcome::kMatch) continue;
        known = true;
        if (!Member(*child, *it, key, depth, report, ok)) return false;
      }
      if (known || node.additional_properties == nullptr) continue;
      if (node.additional_properties->is_boolean && !node.additional_properties->boolean_value) {
        if (!fail("additionalProperties", "property " + AbbreviateValue(json(key)) + " is not allowed")) return false;
      } else if (!Member(*node.additional_properties, *it, key, depth, report, ok)) {
        return false;
      }
    }
    return true;
  }

  // Checks a member or an item at its path; false when checking should stop.
  bool Member(const Node& child, const json& member, const std::string& key, size_t depth, bool report, bool& ok) {
    path_.emplace_back(key);
    const bool valid = Check(child, member, depth + 1, report);
    path_.pop_back();
    if (!valid) ok = false;
    return valid || (report && !stopped_);
  }
  bool Item(const Node& child, const json& array, size_t index, size_t depth, bool report, bool& ok) {
    path_.emplace_back(index);
    const bool valid = Check(child, array[index], depth + 1, report);
    path_.pop_back();
    if (!valid) ok = false;
    return valid || (report && !stopped_);
  }

  void Report(const char* keyword, std::string message) {
    if (stopped_) return;
    violations_.push_back({schema_internal::FormatInstancePath(path_), keyword, std::move(message)});
    if (violations_.size() >= max_errors_) stopped_ = true;
  }

  // A bound reached: reported whether or not the check was reporting, then nothing more.
  bool Stop(const char* keyword, std::string message) {
    Report(keyword, std::move(message));
    stopped_ = true;
    return false;
  }

  size_t max_errors_;
  size_t steps_ = 0;
  bool stopped_ = false;  // the list is full or a bound was reached: every check fails at once
  std::vector<JsonPathElement> path_;
  std::vector<SchemaViolation> violations_;
};

}  // namespace

std::string FormatViolation(const SchemaViolation& violation) {
  return violation.path + ": " + violation.message + " (" + violation.keyword + ")";
}

std::vector<SchemaViolation> Validate(const CompiledSchema& schema, const json& instance, size_t max_errors) {
  Validator validator(max_errors);
  validator.Check(schema.root(), instance, 0, true);
  return validator.Take();
}

}  // namespace flowrun
