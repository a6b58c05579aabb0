// What the validator needs to know about JSON values: numbers compared
// exactly across integer and float (1 == 1.0, 2^53 vs 2^53 + 1), JSON
// equality as the spec defines it, code points, and short one-line texts
// of values and paths for messages. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "schema/json_schema.h"

namespace flowrun::schema_internal {

inline constexpr size_t kValueTextCap = 60;  // bytes of one value in a message

// -1, 0 or 1; both must be numbers.
int CompareNumbers(const nlohmann::json& a, const nlohmann::json& b);

// Whether `value` is an integer multiple of `divisor` (> 0): exact for
// integers, within a relative 1e-9 for floats (0.0075 is a multiple of 0.0001).
bool IsMultipleOf(const nlohmann::json& value, const nlohmann::json& divisor);

// Equal JSON values: numbers by value, no coercion between types (true != 1),
// objects by their key sets and values. Recursion is bounded by the
// shallower of the two values.
bool JsonEqual(const nlohmann::json& a, const nlohmann::json& b);

// An integer, or a float with no fractional part.
bool IsIntegral(const nlohmann::json& value);

size_t CodePointCount(std::string_view text);

// Compact JSON, cut to about kValueTextCap bytes with "..." (never inside
// a UTF-8 sequence), never recursing more than the cap deep.
std::string AbbreviateValue(const nlohmann::json& value);

// "a string", "an object", "null", ... for the type of `value` (integers too are "a number").
std::string DescribeType(const nlohmann::json& value);

// $, $.category, $.items[0].name, $["odd key"]; a key longer than
// kValueTextCap is cut: $["aaaa..."].
std::string FormatInstancePath(const std::vector<JsonPathElement>& path);

// properties.age.minimum, anyOf[0].type, properties["odd key"]; "" for the root.
std::string FormatSchemaPath(const std::vector<JsonPathElement>& path);

}  // namespace flowrun::schema_internal
