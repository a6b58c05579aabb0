// The tests of `value is NAME` (defined, none, string, even, ...).
#include <algorithm>
#include <cmath>

#include "expr/filters.h"

namespace flowrun::expr {
namespace {

const std::vector<std::string> kTestNames = {"defined", "undefined", "none",    "boolean", "string", "number",
                                             "integer", "float",     "list",    "mapping", "even",   "odd"};

}  // namespace

const std::vector<std::string>& TestNames() { return kTestNames; }

bool IsKnownTest(std::string_view name) {
  return std::find(kTestNames.begin(), kTestNames.end(), name) != kTestNames.end();
}

bool TestGuards(std::string_view name) { return name == "defined" || name == "undefined"; }

bool ApplyTest(Evaluator& evaluator, std::string_view name, const Value& value) {
  if (name == "defined") return !value.undefined();
  if (name == "undefined") return value.undefined();
  const nlohmann::json& v = value.get();
  if (name == "none") return v.is_null();
  if (name == "boolean") return v.is_boolean();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_number_integer();
  if (name == "float") return v.is_number_float();
  if (name == "list") return v.is_array();
  if (name == "mapping") return v.is_object();
  Number number;
  if (!ToNumber(v, &number) || (!number.integer && std::trunc(number.d) != number.d)) {
    evaluator.Fail("'" + std::string(name) + "' needs an integer, got " + KindName(KindOf(v)));
  }
  const bool even = number.integer ? number.i % 2 == 0 : std::fmod(number.d, 2.0) == 0;
  return name == "even" ? even : !even;
}

}  // namespace flowrun::expr
