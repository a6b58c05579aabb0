// The filter/function table (`x | lower`, `lower(x)`) and the tests
// (`x is defined`): names, arities, argument kinds for the load-time check,
// and their implementations. The tables are constant; thread-safe.
// Private to src/expr.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "expr/evaluator.h"
#include "expr/node.h"
#include "expr/values.h"

namespace flowrun::expr {

// Evaluates a kCall node whose filter is this one (arity already checked).
using FilterFn = Value (*)(Evaluator& evaluator, const Node& call);
// The number of items FilterFn would return for the call, without building
// them, with the same checks and errors (arity already checked).
using CountFn = size_t (*)(Evaluator& evaluator, const Node& call);

struct FilterSpec {
  const char* name;
  // Argument names, the applied value first; optional ones end with '?'.
  std::vector<const char*> args;
  std::vector<Kinds> kinds;  // what each argument may be
  Kinds result;
  FilterFn fn;
  bool guards = false;  // reading an unset value here is fine (default)
  CountFn count = nullptr;  // for filters that make lists: see Evaluator::EvalCount

  size_t min_args() const;
  size_t max_args() const { return args.size(); }
};

const FilterSpec* FindFilter(std::string_view name);
const std::vector<FilterSpec>& Filters();

// "wrong number of arguments to replace(): got 2, expected replace(value, old, new)",
// or for `x | replace("a")`: "... to filter 'replace': got 1, expected value | replace(old, new)".
std::string ArityError(const FilterSpec& spec, bool as_filter, size_t given);
// "lower() needs a string, got a number"; "replace(): 'old' must be a string, got a number".
std::string ArgTypeError(const FilterSpec& spec, size_t index, Kinds got);

// Tests: `value is NAME`.
bool IsKnownTest(std::string_view name);
// Evaluates the test on the value (defined/undefined look at undefinedness).
bool ApplyTest(Evaluator& evaluator, std::string_view name, const Value& value);
// Tests that are fine on an unset value (defined, undefined).
bool TestGuards(std::string_view name);

}  // namespace flowrun::expr
