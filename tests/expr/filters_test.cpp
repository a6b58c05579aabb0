// Every filter/function, as a filter and as a function, with its errors.
#include <gtest/gtest.h>

#include "expr_test_support.h"

namespace flowrun::expr {
namespace {

using testing::Eval;

TEST(Filters, LengthCountsCodePointsItemsAndKeys) {
  EXPECT_EQ(Eval("words | length"), "11");
  EXPECT_EQ(Eval("length(input.tags)"), "3");
  EXPECT_EQ(Eval("input.meta | length"), "1");
  EXPECT_EQ(Eval("'' | length"), "0");
  EXPECT_EQ(Eval("input.n | length"), "error: length() needs a string, a list or an object, got a number");
}

TEST(Filters, Case) {
  EXPECT_EQ(Eval("input.message | lower"), "\"hello world\"");
  EXPECT_EQ(Eval("upper(words)"), "\"HéLLO WöRLD\"");
  EXPECT_EQ(Eval("3 | upper"), "error: upper() needs a string, got a number");
}

TEST(Filters, Trim) {
  EXPECT_EQ(Eval("'  a b \\n' | trim"), "\"a b\"");
  EXPECT_EQ(Eval("' \\t ' | trim"), "\"\"");
  EXPECT_EQ(Eval("'xxaxx' | trim('x')"), "\"a\"");
}

TEST(Filters, ContainsStartsWithEndsWith) {
  EXPECT_EQ(Eval("input.message | contains('lo W')"), "true");
  EXPECT_EQ(Eval("contains(input.tags, 'c')"), "true");
  EXPECT_EQ(Eval("input.meta | contains('lang')"), "true");
  EXPECT_EQ(Eval("input.message | contains(1)"),
            "error: contains(): 'item' must be a string when the value is a string, got a number");
  EXPECT_EQ(Eval("input.message | starts_with('Hell')"), "true");
  EXPECT_EQ(Eval("ends_with(input.message, 'World')"), "true");
  EXPECT_EQ(Eval("'a' | ends_with('ba')"), "false");
  EXPECT_EQ(Eval("input.tags | starts_with('a')"), "error: starts_with() needs a string, got a list");
}

TEST(Filters, SplitAndJoin) {
  EXPECT_EQ(Eval("'  a  b\\tc ' | split"), "[\"a\",\"b\",\"c\"]");
  EXPECT_EQ(Eval("'a,,b' | split(',')"), "[\"a\",\"\",\"b\"]");
  EXPECT_EQ(Eval("'' | split(',')"), "[\"\"]");
  EXPECT_EQ(Eval("'a' | split('')"), "error: split(): 'separator' must not be empty");
  EXPECT_EQ(Eval("input.tags | join(', ')"), "\"a, b, c\"");
  EXPECT_EQ(Eval("[1, null, 'x', [2]] | join"), "\"1x[2]\"");
  EXPECT_EQ(Eval("join([], '-')"), "\"\"");
  EXPECT_EQ(Eval("'abc' | join"), "error: join() needs a list, got a string");
}

// `x | split | length` counts the parts without building the list: the same
// numbers, errors and limits as counting the list split() makes.
TEST(Filters, LengthOfSplitIsTheLengthOfTheList) {
  for (const std::string split :
       {"'  a  b\\tc ' | split", "' \\n\\u000b\\u000c\\r ' | split", "'a\\u000bb\\u000cc' | split", "'' | split",
        "'one' | split", "'a,,b' | split(',')", "'' | split(',')", "',' | split(',')", "words | split('l')",
        "split('x--y--', '--')", "input.message | split(null)"}) {
    const nlohmann::json list = nlohmann::json::parse(Eval(split));
    ASSERT_TRUE(list.is_array()) << split;
    EXPECT_EQ(Eval(split + " | length"), std::to_string(list.size())) << split;
    EXPECT_EQ(Eval("length(" + split + ")"), std::to_string(list.size())) << split;
  }
  for (const std::string wrong :
       {"input.n | split", "'a' | split('')", "'a' | split(1)", "split()", "input.nope | split"}) {
    EXPECT_EQ(Eval(wrong + " | length"), Eval(wrong)) << wrong;
  }
  EXPECT_EQ(Eval("input.n | split | length"), "error: split() needs a string, got a number");
  EXPECT_EQ(Eval("'a' | split('') | length"), "error: split(): 'separator' must not be empty");
  EXPECT_EQ(Eval("'a' | split(1) | length"), "error: split(): 'separator' must be null or a string, got a number");
  EXPECT_EQ(Eval("input.nope | split | length"), "error: 'input.nope' is not set");
  EvalLimits limits;
  limits.max_output_bytes = 100;
  const std::string too_big = "error: expression output is larger than 100 bytes (max_output_bytes)";
  EXPECT_EQ(Eval("('a ' * 5) | split", testing::State(), limits), R"(["a","a","a","a","a"])");  // 8 + 5 * 17 bytes
  EXPECT_EQ(Eval("('a ' * 5) | split | length", testing::State(), limits), "5");
  EXPECT_EQ(Eval("('a ' * 6) | split", testing::State(), limits), too_big);  // 8 + 6 * 17 bytes
  EXPECT_EQ(Eval("('a ' * 6) | split | length", testing::State(), limits), too_big);
  limits = {};
  limits.max_depth = 3;  // length, split, the value: as deep as evaluating the list
  EXPECT_EQ(Eval("'a b' | split | length", testing::State(), limits), "2");
  limits.max_depth = 2;
  EXPECT_EQ(Eval("'a b' | split | length", testing::State(), limits),
            "error: expression is nested deeper than 2 levels (max_depth)");
}

TEST(Filters, Replace) {
  EXPECT_EQ(Eval("'a-b-c' | replace('-', ' + ')"), "\"a + b + c\"");
  EXPECT_EQ(Eval("replace('aaa', 'aa', 'b')"), "\"ba\"");
  EXPECT_EQ(Eval("'abc' | replace('', 'x')"), "error: replace(): 'old' must not be empty");
  EXPECT_EQ(Eval("'abc' | replace('a', 1)"), "error: replace(): 'new' must be a string, got a number");
}

TEST(Filters, DefaultAppliesToUnsetAndNull) {
  EXPECT_EQ(Eval("input.nothing | default('d')"), "\"d\"");
  EXPECT_EQ(Eval("input.missing | default"), "\"\"");
  EXPECT_EQ(Eval("input.empty | default('d')"), "\"\"");
  EXPECT_EQ(Eval("input.empty | default('d', true)"), "\"d\"");
  EXPECT_EQ(Eval("input.n | default(0)"), "3");
  EXPECT_EQ(Eval("input.x | default(input.y | default('deep'))"), "\"deep\"");
  EXPECT_EQ(Eval("input.x | default(input.y)"), "error: 'input.y' is not set");
}

TEST(Filters, JsonAndFromJson) {
  EXPECT_EQ(Eval("input.meta | json"), "\"{\\\"lang\\\":\\\"en\\\"}\"");
  EXPECT_EQ(Eval("[1, 2] | tojson(true)"), "\"[\\n  1,\\n  2\\n]\"");
  EXPECT_EQ(Eval("'x' | json"), "\"\\\"x\\\"\"");
  EXPECT_EQ(Eval("[1] | json(99)"), "error: json(): 'indent' must be true, false or 0 to 16");
  EXPECT_EQ(Eval("(input.json | from_json).k[1]"), "2");
  EXPECT_EQ(Eval("from_json('[1, {\"a\": null}]')"), "[1,{\"a\":null}]");
  EXPECT_EQ(Eval("'{a' | from_json"), "error: from_json(): the text is not JSON (at byte 2)");
  EXPECT_EQ(Eval("3 | from_json"), "error: from_json() needs a string, got a number");
}

TEST(Filters, Numbers) {
  EXPECT_EQ(Eval("42.5 | round"), "43.0");
  EXPECT_EQ(Eval("-42.5 | round"), "-43.0");
  EXPECT_EQ(Eval("42 | round"), "42");
  EXPECT_EQ(Eval("3.14159 | round(2)"), "3.14");
  EXPECT_EQ(Eval("1234 | round(-2)"), "1200");
  EXPECT_EQ(Eval("1.5 | round(0.5)"), "error: round(): 'precision' must be a whole number");
  EXPECT_EQ(Eval("'42' | int"), "42");
  EXPECT_EQ(Eval("' -23 ' | int"), "-23");
  EXPECT_EQ(Eval("'42.42' | int"), "42");
  EXPECT_EQ(Eval("42.9 | int"), "42");
  EXPECT_EQ(Eval("true | int"), "1");
  EXPECT_EQ(Eval("'abc' | int"), "error: int() cannot convert 'abc' to an integer");
  EXPECT_EQ(Eval("'abc' | int(-1)"), "-1");
  EXPECT_EQ(Eval("null | int"), "error: int() cannot convert null to an integer");
  EXPECT_EQ(Eval("[1] | int"), "error: int() needs a boolean, a number or a string, got a list");
  EXPECT_EQ(Eval("'2.5' | float"), "2.5");
  EXPECT_EQ(Eval("float(2)"), "2.0");
  EXPECT_EQ(Eval("'x' | float"), "error: float() cannot convert 'x' to a number");
  EXPECT_EQ(Eval("-3 | abs"), "3");
  EXPECT_EQ(Eval("abs(-2.5)"), "2.5");
}

TEST(Filters, StringFirstLast) {
  EXPECT_EQ(Eval("input.n | string"), "\"3\"");
  EXPECT_EQ(Eval("string(input.nothing)"), "\"\"");
  EXPECT_EQ(Eval("input.tags | string"), "\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"");
  EXPECT_EQ(Eval("input.tags | first"), "\"a\"");
  EXPECT_EQ(Eval("last(input.tags)"), "\"c\"");
  EXPECT_EQ(Eval("words | first"), "\"h\"");
  EXPECT_EQ(Eval("words[:2] | last"), "\"é\"");
  EXPECT_EQ(Eval("[] | first"), "error: first() of an empty list");
  EXPECT_EQ(Eval("[] | last | default('none')"), "\"none\"");
  EXPECT_EQ(Eval("'' | first"), "error: first() of an empty string");
}

TEST(Filters, ChainAndBindTighterThanOperators) {
  EXPECT_EQ(Eval("'  Billing ' | trim | lower"), "\"billing\"");
  EXPECT_EQ(Eval("1 + input.tags | length"), "4");
  EXPECT_EQ(Eval("-42 | abs"), "42");
  EXPECT_EQ(Eval("input.tags | join('') | upper == 'ABC'"), "true");
}

TEST(Filters, ArityIsCheckedAtEvaluationToo) {
  EXPECT_EQ(Eval("'a' | replace('a')"),
            "error: wrong number of arguments to filter 'replace': got 1, expected value | replace(old, new)");
  EXPECT_EQ(Eval("lower()"), "error: wrong number of arguments to lower(): got 0, expected lower(value)");
  EXPECT_EQ(Eval("'a' | lower(1)"), "error: wrong number of arguments to filter 'lower': got 1, expected value | lower");
  EXPECT_EQ(Eval("default()"),
            "error: wrong number of arguments to default(): got 0, expected default(value[, fallback[, also_falsy]])");
}

TEST(Filters, NamesAreListed) {
  const auto& names = FilterNames();
  for (const char* name : {"length", "lower", "upper", "trim", "contains", "starts_with", "ends_with", "split",
                           "join", "replace", "default", "json", "from_json", "round", "int", "float", "string",
                           "first", "last"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  EXPECT_NE(std::find(TestNames().begin(), TestNames().end(), "defined"), TestNames().end());
}

}  // namespace
}  // namespace flowrun::expr
