// Parse errors (with their offsets), load-time checks and evaluation limits.
#include <gtest/gtest.h>

#include "expr_test_support.h"

namespace flowrun::expr {
namespace {

using testing::Eval;

struct ParseCase {
  const char* text;
  const char* message;
  size_t offset;
  size_t length;
};

TEST(ExpressionErrors, ParseErrorsCarryOffsets) {
  const ParseCase cases[] = {
      {"", "empty expression", 0, 1},
      {"   ", "empty expression", 3, 1},
      {"1 +", "unexpected end of expression", 3, 1},
      {"a b", "unexpected 'b'", 2, 1},
      {"a = 1", "unexpected '='; did you mean '=='?", 2, 1},
      {"(a + 1", "unclosed '(' (expected ')')", 0, 1},
      {"[1, 2", "unclosed '[' (expected ']')", 0, 1},
      {"{'a': 1", "unclosed '{' (expected '}')", 0, 1},
      {"(1, 2)", "tuples are not supported; use a list [a, b]", 2, 1},
      {"{a: 1}", "an object key must be a string literal", 1, 1},
      {"{'a' 1}", "expected ':' after an object key", 5, 1},
      {"'abc", "unterminated string", 0, 1},
      {"a @ b", "unexpected character '@'", 2, 1},
      {"a \x01", "unexpected byte 0x01", 2, 1},
      {"a.", "expected a name after '.'", 2, 1},
      {"a.'b'", "expected a name after '.'", 2, 3},
      {"x | lowr", "unknown filter 'lowr'; did you mean 'lower'?", 4, 4},
      {"x | 3", "expected a filter name after '|'", 4, 1},
      {"lenght(x)", "unknown function 'lenght'; did you mean 'length'?", 0, 6},
      {"x is defind", "unknown test 'defind'; did you mean 'defined'?", 5, 6},
      {"x | default(fallback='a')", "keyword arguments are not supported", 12, 8},
      {"x.y(1)", "only functions can be called, e.g. length(x)", 3, 1},
      {"1 < x < 3", "comparisons cannot be chained; use 'and'", 6, 1},
      {"a if b", "expected 'else' (an inline if is 'a if condition else b')", 6, 1},
      {"and", "unexpected 'and'", 0, 3},
      {"history[99999999999999999999]", "index [99999999999999999999] is too large", 7, 1},
      {"99999999999999999999", "number 99999999999999999999 is too large", 0, 20},
      {"1e999", "number 1e999 is too large", 0, 5},
  };
  for (const auto& c : cases) {
    ExprError error;
    EXPECT_FALSE(Expression::Parse(c.text, &error)) << c.text;
    EXPECT_EQ(error.message, c.message) << c.text;
    EXPECT_EQ(error.where.offset, c.offset) << c.text;
    EXPECT_EQ(error.where.length, c.length) << c.text;
  }
}

TEST(ExpressionErrors, NestingIsBoundedWhileParsing) {
  ExprError error;
  std::string deep = std::string(200, '(') + "1" + std::string(200, ')');
  EXPECT_FALSE(Expression::Parse(deep, &error));
  EXPECT_EQ(error.message, "expression is nested too deeply (more than 100 levels)");
  std::string chain = "1";
  for (int i = 0; i < 150; ++i) chain += " + 1";
  EXPECT_FALSE(Expression::Parse(chain, &error));
  EXPECT_EQ(error.message, "expression is nested too deeply (more than 100 levels)");
  EXPECT_FALSE(Expression::Parse(std::string(5000, '-') + "1", &error));
  EXPECT_EQ(error.message, "expression is nested too deeply (more than 100 levels)");
  EXPECT_TRUE(Expression::Parse(std::string(30, '[') + std::string(30, ']'), &error)) << error.message;
}

std::string CheckText(const std::string& text, std::vector<std::string> roots = {"input", "history", "reply"}) {
  ExprError error;
  auto expression = Expression::Parse(text, &error);
  if (!expression) return "parse error: " + error.message;
  std::string out;
  for (const auto& problem : expression->Check(CheckScope{std::move(roots)})) {
    out += std::to_string(problem.where.offset) + "+" + std::to_string(problem.where.length) + ": " +
           problem.message + "\n";
  }
  return out;
}

TEST(ExpressionErrors, CheckFindsUnknownVariablesWithSuggestions) {
  EXPECT_EQ(CheckText("inptu.message ~ histroy[0] ~ review"),
            "0+5: unknown variable 'inptu'; did you mean 'input'?\n"
            "16+7: unknown variable 'histroy'; did you mean 'history'?\n"
            "29+6: unknown variable 'review'\n");
  EXPECT_EQ(CheckText("input.x | default(replyy)"), "18+6: unknown variable 'replyy'; did you mean 'reply'?\n");
  EXPECT_EQ(CheckText("input.message | lower"), "");
}

TEST(ExpressionErrors, CheckFindsLiteralTypeErrors) {
  EXPECT_EQ(CheckText("\"a\" - 1"), "4+1: cannot apply '-' to a string and a number\n");
  EXPECT_EQ(CheckText("input.n - 'a'"), "8+1: cannot apply '-' to a string\n");
  EXPECT_EQ(CheckText("'a' < 1"), "4+1: cannot compare a string with a number\n");
  EXPECT_EQ(CheckText("[1] < input.n"), "4+1: cannot compare a list\n");
  EXPECT_EQ(CheckText("'a' + 1"), "4+1: cannot apply '+' to a string and a number\n");
  EXPECT_EQ(CheckText("1 in 2"), "2+2: 'in' needs a string, a list or an object on the right, got a number\n");
  EXPECT_EQ(CheckText("-'a'"), "0+1: cannot apply '-' to a string\n");
  EXPECT_EQ(CheckText("(input.n ~ 'x') * 2.5 - 1"), "");
  EXPECT_EQ(CheckText("length(3)"), "7+1: length() needs a string, a list or an object, got a number\n");
  EXPECT_EQ(CheckText("input.m | replace('a', 2)"), "23+1: replace(): 'new' must be a string, got a number\n");
  EXPECT_EQ(CheckText("('a' ~ input.x) | round"), "1+13: round() needs a number, got a string\n");
  EXPECT_EQ(CheckText("(input.x | length) | upper"), "1+16: upper() needs a string, got a number\n");
  EXPECT_EQ(CheckText("'x'[1:]"), "");
  EXPECT_EQ(CheckText("5[1:]"), "1+1: cannot slice a number\n");
  // Unknown kinds are never an error before running.
  EXPECT_EQ(CheckText("input.a - input.b < reply"), "");
}

TEST(ExpressionErrors, CheckFindsWrongArity) {
  EXPECT_EQ(CheckText("input.m | replace('a') ~ split()"),
            "10+7: wrong number of arguments to filter 'replace': got 1, expected value | replace(old, new)\n"
            "25+5: wrong number of arguments to split(): got 0, expected split(value[, separator])\n");
}

TEST(ExpressionErrors, CheckReportsNestingBeyondTheEvaluationLimit) {
  std::string chain = "1";
  for (int i = 0; i < 70; ++i) chain += " + 1";
  EXPECT_EQ(CheckText(chain), "0+" + std::to_string(chain.size()) +
                                  ": expression is nested deeper than 64 levels (max_depth)\n");
  EXPECT_EQ(Eval(chain), "error: expression is nested deeper than 64 levels (max_depth)");
}

TEST(ExpressionErrors, OutputSizeIsBounded) {
  EvalLimits limits;
  limits.max_output_bytes = 100;
  const std::string too_big = "error: expression output is larger than 100 bytes (max_output_bytes)";
  EXPECT_EQ(Eval("'abcdefghij' * 11", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("'abcdefghij' * 10", testing::State(), limits).size(), 102u);
  EXPECT_EQ(Eval("'x' * 9223372036854775807", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("[1, 2] * 100", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("('a' * 60) ~ ('b' * 60)", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("('a' * 60) + ('b' * 60)", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("('a' * 60) | replace('a', 'bb')", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("[('a' * 60), ('b' * 60)]", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("input.tags | join('-' * 60)", testing::State(), limits), too_big);
  EXPECT_EQ(Eval("('a' * 90) | json(16)", testing::State(), limits), "\"\\\"" + std::string(90, 'a') + "\\\"\"");
}

TEST(ExpressionErrors, DepthIsBoundedWhileEvaluating) {
  EvalLimits limits;
  limits.max_depth = 3;
  EXPECT_EQ(Eval("1 + 2", testing::State(), limits), "3");
  EXPECT_EQ(Eval("((1 + 2) + 3) + 4", testing::State(), limits),
            "error: expression is nested deeper than 3 levels (max_depth)");
  EXPECT_EQ(Eval("'[[[[1]]]]' | from_json", testing::State(), limits),
            "error: from_json(): the JSON is nested deeper than 3 levels (max_depth)");
  EXPECT_EQ(Eval("'[[[1]]]' | from_json", testing::State(), limits), "[[[1]]]");
}

}  // namespace
}  // namespace flowrun::expr
