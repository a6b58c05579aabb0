// The expression language: literals, paths, operators and their precedence, types.
#include <limits>

#include <gtest/gtest.h>

#include "expr_test_support.h"

namespace flowrun::expr {
namespace {

using testing::Eval;

TEST(Expression, Literals) {
  EXPECT_EQ(Eval("12"), "12");
  EXPECT_EQ(Eval("3.5"), "3.5");
  EXPECT_EQ(Eval("1e3"), "1000.0");
  EXPECT_EQ(Eval("\"a\\n\\\"b\\\"\""), "\"a\\n\\\"b\\\"\"");
  EXPECT_EQ(Eval("'it\\'s'"), "\"it's\"");
  EXPECT_EQ(Eval("'\\u00e9'"), "\"é\"");
  EXPECT_EQ(Eval("true"), "true");
  EXPECT_EQ(Eval("False"), "false");
  EXPECT_EQ(Eval("null"), "null");
  EXPECT_EQ(Eval("none"), "null");
  EXPECT_EQ(Eval("[1, \"a\", [true], ]"), "[1,\"a\",[true]]");
  EXPECT_EQ(Eval("[]"), "[]");
  EXPECT_EQ(Eval("{\"k\": 1, 'j': [2]}"), "{\"j\":[2],\"k\":1}");
  EXPECT_EQ(Eval("-9223372036854775807"), "-9223372036854775807");
}

TEST(Expression, Paths) {
  EXPECT_EQ(Eval("input.message"), "\"Hello World\"");
  EXPECT_EQ(Eval("history[-1].content"), "\"second\"");
  EXPECT_EQ(Eval("history[0][\"role\"]"), "\"user\"");
  EXPECT_EQ(Eval("input.tags[1]"), "\"b\"");
  EXPECT_EQ(Eval("input.tags.2"), "\"c\"");
  EXPECT_EQ(Eval("input[\"me\" ~ \"ta\"].lang"), "\"en\"");
  EXPECT_EQ(Eval("input.tags[input.n - 2]"), "\"b\"");
  EXPECT_EQ(Eval("input.nothing"), "null");
  EXPECT_EQ(Eval("words[1]"), "\"é\"");
  EXPECT_EQ(Eval("words[-1]"), "\"d\"");
  EXPECT_EQ(Eval("[10, 20, 30][-3]"), "10");
}

TEST(Expression, MissingPathsNameThePath) {
  EXPECT_EQ(Eval("input.mesage"), "error: 'input.mesage' is not set");
  EXPECT_EQ(Eval("input.meta.x.y"), "error: 'input.meta.x' is not set");
  EXPECT_EQ(Eval("review.ok"), "error: 'review' is not set");
  EXPECT_EQ(Eval("history[5].content"), "error: 'history[5]' is not set");
  EXPECT_EQ(Eval("history[-3]"), "error: 'history[-3]' is not set");
  EXPECT_EQ(Eval("input.message.x"), "error: 'input.message.x' is not set ('input.message' is a string)");
  EXPECT_EQ(Eval("input.n[0]"), "error: 'input.n[0]' is not set ('input.n' is a number)");
  EXPECT_EQ(Eval("input.tags['a']"), "error: 'input.tags['a']' is not set ('input.tags' is a list)");
  EXPECT_EQ(Eval("input.tags[0.5]"), "error: an index must be an integer, got a number");
  EXPECT_EQ(Eval("input[1]"), "error: an object key must be a string, got a number");
  // ... unless the read says what to use instead.
  EXPECT_EQ(Eval("input.mesage | default('none')"), "\"none\"");
  EXPECT_EQ(Eval("review.ok | default(false)"), "false");
  EXPECT_EQ(Eval("input.meta.x.y | default(1)"), "1");
  EXPECT_EQ(Eval("default(input.mesage, 2)"), "2");
  EXPECT_EQ(Eval("input.mesage is defined"), "false");
  EXPECT_EQ(Eval("input.message is defined"), "true");
  EXPECT_EQ(Eval("review is not defined"), "true");
  // Anything else that uses an unset value is an error.
  EXPECT_EQ(Eval("input.mesage ~ '!'"), "error: 'input.mesage' is not set");
  EXPECT_EQ(Eval("input.mesage or 'x'"), "error: 'input.mesage' is not set");
  EXPECT_EQ(Eval("input.mesage == null"), "error: 'input.mesage' is not set");
  EXPECT_EQ(Eval("input.mesage | upper"), "error: 'input.mesage' is not set");
}

TEST(Expression, Arithmetic) {
  EXPECT_EQ(Eval("1 + 2 * 3"), "7");
  EXPECT_EQ(Eval("(1 + 2) * 3"), "9");
  EXPECT_EQ(Eval("10 - 4 - 3"), "3");
  EXPECT_EQ(Eval("7 / 2"), "3.5");
  EXPECT_EQ(Eval("4 / 2"), "2.0");
  EXPECT_EQ(Eval("7 // 2"), "3");
  EXPECT_EQ(Eval("-7 // 2"), "-4");
  EXPECT_EQ(Eval("7.5 // 2"), "3.0");
  EXPECT_EQ(Eval("7 % 3"), "1");
  EXPECT_EQ(Eval("-7 % 3"), "2");
  EXPECT_EQ(Eval("7 % -3"), "-2");
  EXPECT_EQ(Eval("5.5 % 2"), "1.5");
  EXPECT_EQ(Eval("-input.n"), "-3");
  EXPECT_EQ(Eval("+input.ratio"), "0.5");
  EXPECT_EQ(Eval("input.n + input.ratio"), "3.5");
  EXPECT_EQ(Eval("9223372036854775807 + 1"), "9.223372036854776e+18");
  EXPECT_EQ(Eval("'ab' + 'cd'"), "\"abcd\"");
  EXPECT_EQ(Eval("[1] + [2, 3]"), "[1,2,3]");
  EXPECT_EQ(Eval("'ab' * 3"), "\"ababab\"");
  EXPECT_EQ(Eval("2 * [0]"), "[0,0]");
  EXPECT_EQ(Eval("'ab' * -1"), "\"\"");
  EXPECT_EQ(Eval("1 / 0"), "error: division by zero");
  EXPECT_EQ(Eval("1 // 0.0"), "error: division by zero");
  EXPECT_EQ(Eval("1 % 0"), "error: division by zero");
  EXPECT_EQ(Eval("'a' * 1.5"), "error: a string can only be repeated a whole number of times");
}

TEST(Expression, Concatenation) {
  EXPECT_EQ(Eval("'n=' ~ input.n"), "\"n=3\"");
  EXPECT_EQ(Eval("input.tags ~ input.nothing ~ input.flag"), "\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]true\"");
  // `~` binds looser than `+`: the sum is made first.
  EXPECT_EQ(Eval("1 + 2 ~ 3"), "\"33\"");
}

TEST(Expression, Comparisons) {
  EXPECT_EQ(Eval("1 < 2"), "true");
  EXPECT_EQ(Eval("2 <= 2.0"), "true");
  EXPECT_EQ(Eval("'b' > 'a'"), "true");
  EXPECT_EQ(Eval("'B' >= 'a'"), "false");
  EXPECT_EQ(Eval("1 == 1.0"), "true");
  EXPECT_EQ(Eval("'1' == 1"), "false");
  EXPECT_EQ(Eval("[1, 'a'] == [1, 'a']"), "true");
  EXPECT_EQ(Eval("null != false"), "true");
  EXPECT_EQ(Eval("input.n > 2 and input.n < 4"), "true");
  EXPECT_EQ(Eval("input.message < 1"), "error: cannot compare a string with a number");
  EXPECT_EQ(Eval("input.tags < input.tags"), "error: cannot compare a list with a list");
}

TEST(Expression, InAndNotIn) {
  EXPECT_EQ(Eval("'World' in input.message"), "true");
  EXPECT_EQ(Eval("'world' in input.message"), "false");
  EXPECT_EQ(Eval("'b' in input.tags"), "true");
  EXPECT_EQ(Eval("'lang' in input.meta"), "true");
  EXPECT_EQ(Eval("1 in input.meta"), "false");
  EXPECT_EQ(Eval("'z' not in input.tags"), "true");
  EXPECT_EQ(Eval("not 'b' in input.tags"), "false");
  EXPECT_EQ(Eval("1 in input.message"),
            "error: 'in' with a string on the right needs a string on the left, got a number");
  EXPECT_EQ(Eval("1 in input.n"), "error: 'in' needs a string, a list or an object on the right, got a number");
}

TEST(Expression, LogicReturnsTheDecidingOperand) {
  EXPECT_EQ(Eval("42 or 23"), "42");
  EXPECT_EQ(Eval("0 or 23"), "23");
  EXPECT_EQ(Eval("none or 'x'"), "\"x\"");
  EXPECT_EQ(Eval("'' and 1"), "\"\"");
  EXPECT_EQ(Eval("1 and 'y'"), "\"y\"");
  EXPECT_EQ(Eval("not input.empty"), "true");
  EXPECT_EQ(Eval("not not input.tags"), "true");
  // Short-circuit: the right side is not evaluated.
  EXPECT_EQ(Eval("true or missing.value"), "true");
  EXPECT_EQ(Eval("false and 1 / 0"), "false");
  // `not` binds looser than comparisons, `and` tighter than `or`.
  EXPECT_EQ(Eval("not 1 == 2"), "true");
  EXPECT_EQ(Eval("true or true and false"), "true");
  EXPECT_EQ(Eval("(true or true) and false"), "false");
}

TEST(Expression, InlineIf) {
  EXPECT_EQ(Eval("'yes' if input.flag else 'no'"), "\"yes\"");
  EXPECT_EQ(Eval("'yes' if input.empty else 'no'"), "\"no\"");
  EXPECT_EQ(Eval("1 if false else 2 if false else 3"), "3");
  EXPECT_EQ(Eval("input.x if false else 'fine'"), "\"fine\"");
  EXPECT_EQ(Eval("(input.x if true else 0) | default(9)"), "9");
}

TEST(Expression, Slices) {
  EXPECT_EQ(Eval("input.tags[1:]"), "[\"b\",\"c\"]");
  EXPECT_EQ(Eval("input.tags[:-1]"), "[\"a\",\"b\"]");
  EXPECT_EQ(Eval("input.tags[::-1]"), "[\"c\",\"b\",\"a\"]");
  EXPECT_EQ(Eval("input.tags[-5:99]"), "[\"a\",\"b\",\"c\"]");
  EXPECT_EQ(Eval("words[1:4]"), "\"éll\"");
  EXPECT_EQ(Eval("words[::-1]"), "\"dlröw olléh\"");
  EXPECT_EQ(Eval("history[-1:][0].role"), "\"assistant\"");
  EXPECT_EQ(Eval("input.tags[::0]"), "error: a slice step cannot be zero");
  EXPECT_EQ(Eval("input.tags['a':]"), "error: a slice start must be an integer, got a string");
  EXPECT_EQ(Eval("input.n[1:]"), "error: cannot slice a number");
}

TEST(Expression, Tests) {
  EXPECT_EQ(Eval("input.nothing is none"), "true");
  EXPECT_EQ(Eval("input.n is number and input.n is integer"), "true");
  EXPECT_EQ(Eval("input.ratio is float"), "true");
  EXPECT_EQ(Eval("input.tags is list and input.meta is mapping"), "true");
  EXPECT_EQ(Eval("input.message is string and input.flag is boolean"), "true");
  EXPECT_EQ(Eval("input.n is odd"), "true");
  EXPECT_EQ(Eval("4 is not even"), "false");
  EXPECT_EQ(Eval("'a' is even"), "error: 'even' needs an integer, got a string");
}

TEST(Expression, Truthiness) {
  for (const char* falsy : {"false", "null", "0", "0.0", "\"\"", "[]", "{}"}) {
    EXPECT_FALSE(Expression::Truthy(nlohmann::json::parse(falsy))) << falsy;
  }
  for (const char* truthy : {"true", "1", "-0.5", "\" \"", "[0]", "{\"a\":null}"}) {
    EXPECT_TRUE(Expression::Truthy(nlohmann::json::parse(truthy))) << truthy;
  }
}

TEST(Expression, ReadsListPathsWithGuards) {
  ExprError error;
  auto expression = Expression::Parse(
      "input.message ~ (review.ok | default(false)) ~ history[-1].content ~ input.tags[input.n] ~ x is defined",
      &error);
  ASSERT_TRUE(expression) << error.message;
  auto reads = expression->Reads();
  ASSERT_EQ(reads.size(), 6u);
  EXPECT_EQ(reads[0].text, "input.message");
  EXPECT_EQ(reads[0].root, "input");
  EXPECT_EQ(reads[0].where.offset, 0u);
  EXPECT_EQ(reads[0].where.length, 13u);
  EXPECT_EQ(reads[0].path, std::vector<nlohmann::json>{"message"});
  EXPECT_FALSE(reads[0].guarded);
  EXPECT_EQ(reads[1].text, "review.ok");
  EXPECT_TRUE(reads[1].guarded);
  EXPECT_EQ(reads[2].text, "history[-1].content");
  EXPECT_EQ(reads[2].path, (std::vector<nlohmann::json>{-1, "content"}));
  EXPECT_EQ(reads[3].text, "input.tags[input.n]");
  EXPECT_EQ(reads[3].path, std::vector<nlohmann::json>{"tags"});
  EXPECT_EQ(reads[4].text, "input.n");
  EXPECT_EQ(reads[5].text, "x");
  EXPECT_TRUE(reads[5].guarded);
}

TEST(Expression, ToText) {
  EXPECT_EQ(ToText("a"), "a");
  EXPECT_EQ(ToText(nullptr), "");
  EXPECT_EQ(ToText(3), "3");
  EXPECT_EQ(ToText(2.0), "2.0");
  EXPECT_EQ(ToText(true), "true");
  EXPECT_EQ(ToText(nlohmann::json::parse(R"({"b":[1,"x"]})")), R"({"b":[1,"x"]})");
  EXPECT_EQ(ToText(nlohmann::json::array({std::string("\xff")})), "[\"\xEF\xBF\xBD\"]");
}

// Integers and booleans are written without json::dump, as it writes them.
TEST(Expression, ToTextWritesNumbersAsJsonDoes) {
  for (const nlohmann::json& value :
       {nlohmann::json(0), nlohmann::json(-7), nlohmann::json(std::numeric_limits<int64_t>::min()),
        nlohmann::json(std::numeric_limits<int64_t>::max()), nlohmann::json(std::numeric_limits<uint64_t>::max()),
        nlohmann::json(false), nlohmann::json(-0.0), nlohmann::json(1e300), nlohmann::json(0.1)}) {
    EXPECT_EQ(ToText(value), value.dump());
  }
  EXPECT_EQ(Eval("'n=' ~ -42 ~ none ~ 'x' ~ [1, true] ~ false ~ 2.5"), "\"n=-42x[1,true]false2.5\"");
}

TEST(Expression, SharedAcrossThreadsAndCopies) {
  ExprError error;
  auto expression = Expression::Parse("input.n * 2", &error);
  ASSERT_TRUE(expression);
  Expression copy = *expression;
  nlohmann::json other = {{"input", {{"n", 5}}}};
  EXPECT_EQ(copy.Evaluate(JsonVariables(other)).value, 10);
  EXPECT_EQ(expression->Evaluate(JsonVariables(testing::State())).value, 6);
  EXPECT_EQ(copy.text(), "input.n * 2");
}

}  // namespace
}  // namespace flowrun::expr
