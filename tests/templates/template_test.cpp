#include "templates/template.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

std::string Render(const std::string& text, const nlohmann::json& state) {
  Template::CompileError error;
  auto compiled = Template::Compile(text, &error);
  if (!compiled) return "COMPILE ERROR at " + std::to_string(error.offset) + ": " + error.message;
  std::string out;
  Status status = compiled->Render(state, &out);
  return status.ok() ? out : "ERROR: " + status.message();
}

const nlohmann::json& State() {
  static const nlohmann::json state = {
      {"input", {{"message", "hi"}, {"n", 3}, {"empty", nullptr}, {"tags", {"a", "b", "c"}}, {"x", "{{ input.n }}"}}},
      {"history", {{{"role", "user"}, {"content", "first"}}, {{"role", "assistant"}, {"content", "second"}}}},
      {"category", " Billing "}};
  return state;
}

TEST(Template, RendersPathsIndicesAndTypes) {
  EXPECT_EQ(Render("Q: {{ input.message }}!", State()), "Q: hi!");
  EXPECT_EQ(Render("{{input.n}}/{{ input.empty }}/", State()), "3//");
  EXPECT_EQ(Render("{{ history[0].content }}", State()), "first");
  EXPECT_EQ(Render("{{ history[-1].content }}", State()), "second");
  EXPECT_EQ(Render("{{ history[0] }}", State()), R"({"content":"first","role":"user"})");
  EXPECT_EQ(Render("{{ input.tags }} {{ true }} {{ 2.5 }}", State()), R"(["a","b","c"] true 2.5)");
  EXPECT_EQ(Render("no placeholders", State()), "no placeholders");
  EXPECT_EQ(Render("", State()), "");
  EXPECT_EQ(Render("{ not a tag } {x} {", State()), "{ not a tag } {x} {");
}

TEST(Template, ExpressionsAndFilters) {
  EXPECT_EQ(Render("{{ category | trim | lower }}", State()), "billing");
  EXPECT_EQ(Render("{{ input.n + 1 }} {{ input.tags | join(', ') }}", State()), "4 a, b, c");
  EXPECT_EQ(Render("{{ input.missing | default('none') }}", State()), "none");
  EXPECT_EQ(Render("{{ 'yes' if input.n > 2 else 'no' }}", State()), "yes");
  EXPECT_EQ(Render("{{ {'a': [1, {'b': 2}]} }}", State()), R"({"a":[1,{"b":2}]})");
  EXPECT_EQ(Render("{{ '}}' ~ \"{{\" }}", State()), "}}{{");
}

TEST(Template, ValuesAreNeverRenderedAgain) {
  EXPECT_EQ(Render("say {{ input.x }}", State()), "say {{ input.n }}");
  nlohmann::json state = {{"reply", "{% for x in y %}{{ boom }}{# c #}"}};
  EXPECT_EQ(Render("[{{ reply }}]", state), "[{% for x in y %}{{ boom }}{# c #}]");
  EXPECT_EQ(Render("{% for m in history %}{{ m.content }}{% endfor %}",
                   {{"history", {{{"content", "{{ secret }}"}}}}}),
            "{{ secret }}");
}

TEST(Template, IfElifElse) {
  const std::string text = "{% if input.n > 5 %}big{% elif input.n > 2 %}mid{% else %}small{% endif %}";
  EXPECT_EQ(Render(text, State()), "mid");
  EXPECT_EQ(Render(text, {{"input", {{"n", 9}}}}), "big");
  EXPECT_EQ(Render(text, {{"input", {{"n", 1}}}}), "small");
  EXPECT_EQ(Render("{% if input.empty %}x{% endif %}-", State()), "-");
  EXPECT_EQ(Render("{% if 'b' in input.tags and not input.empty %}yes{% endif %}", State()), "yes");
  // Only the branch taken is evaluated.
  EXPECT_EQ(Render("{% if true %}a{% else %}{{ missing }}{% endif %}", State()), "a");
}

TEST(Template, ForLoopsWithLoopVariables) {
  EXPECT_EQ(Render("{% for m in history %}{{ loop.index }}/{{ loop.length }} {{ m.role }}: {{ m.content }}"
                   "{% if not loop.last %}; {% endif %}{% endfor %}",
                   State()),
            "1/2 user: first; 2/2 assistant: second");
  EXPECT_EQ(Render("{% for t in input.tags %}{{ loop.index0 }}{{ loop.first }}{{ loop.revindex }}"
                   "{{ loop.revindex0 }} {% endfor %}",
                   State()),
            "0true32 1false21 2false10 ");
  EXPECT_EQ(Render("{% for t in [] %}x{% else %}none{% endfor %}", State()), "none");
  EXPECT_EQ(Render("{% for t in input.empty %}x{% else %}null is empty{% endfor %}", State()), "null is empty");
  EXPECT_EQ(Render("{% for c in 'héj' %}[{{ c }}]{% endfor %}", State()), "[h][é][j]");
  EXPECT_EQ(Render("{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}", State()), "ab");
  EXPECT_EQ(Render("{% for a in [1, 2] %}{% for b in [3, 4] %}{{ a * b }},{% endfor %}{% endfor %}", State()),
            "3,4,6,8,");
  // The loop variable hides a state key of the same name only inside the loop.
  EXPECT_EQ(Render("{% for input in [1] %}{{ input }}{% endfor %}{{ input.n }}", State()), "13");
  EXPECT_EQ(Render("{% for t in input.n %}{% endfor %}", State()),
            "ERROR: 'for' needs a list, an object or a string, got a number");
}

TEST(Template, Set) {
  EXPECT_EQ(Render("{% set who = input.message | upper %}{{ who }} {{ who }}", State()), "HI HI");
  EXPECT_EQ(Render("{% if true %}{% set x = 1 %}{% endif %}{{ x }}", State()), "1");
  // A set inside a loop lasts for that iteration only, as in Jinja.
  EXPECT_EQ(Render("{% set n = 0 %}{% for t in input.tags %}{% set n = n + 1 %}{{ n }}{% endfor %}{{ n }}", State()),
            "1110");
}

TEST(Template, WhitespaceControlCommentsAndRaw) {
  EXPECT_EQ(Render("a  {%- if true -%}  \n b \n {%- endif -%} \n c", State()), "abc");
  EXPECT_EQ(Render("x {{- input.message -}} y", State()), "xhiy");
  EXPECT_EQ(Render("<ul>\n{% for t in input.tags -%}\n  <li>{{ t }}</li>\n{% endfor -%}\n</ul>", State()),
            "<ul>\n<li>a</li>\n<li>b</li>\n<li>c</li>\n</ul>");
  EXPECT_EQ(Render("a {# a comment {{ x }} #}b {#- gone -#} c", State()), "a bc");
  EXPECT_EQ(Render("{% raw %}{{ input.message }} {% if %}{% endraw %}!", State()), "{{ input.message }} {% if %}!");
  EXPECT_EQ(Render("x {%- raw -%}  {{ y }}  {%- endraw -%} z", State()), "x{{ y }}z");
}

TEST(Template, RenderErrorsNameThePathAndCarryCodes) {
  EXPECT_EQ(Render("{{ input.nope }}", State()), "ERROR: 'input.nope' is not set");
  EXPECT_EQ(Render("{{ history[2].content }}", State()), "ERROR: 'history[2]' is not set");
  EXPECT_EQ(Render("{% if input.n < 'a' %}{% endif %}", State()), "ERROR: cannot compare a number with a string");
  Template::CompileError error;
  std::string out;
  EXPECT_EQ(Template::Compile("{{ input.nope }}", &error)->Render(State(), &out).code(), StatusCode::kNotFound);
  EXPECT_EQ(Template::Compile("{{ 1 / 0 }}", &error)->Render(State(), &out).code(), StatusCode::kInvalidArgument);
}

TEST(Template, LimitsAreErrorsThatNameThem) {
  Template::CompileError error;
  std::string out;
  expr::EvalLimits limits;
  limits.max_output_bytes = 10;
  nlohmann::json state = {{"s", "0123456789"}, {"list", nlohmann::json::array()}};
  for (int i = 0; i < 50; ++i) state["list"].push_back(i);
  expr::JsonVariables variables(state);
  Status status = Template::Compile("{{ s }}{{ s }}", &error)->Render(variables, &out, limits);
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "template output is larger than 10 bytes (max_output_bytes)");
  EXPECT_EQ(Template::Compile("{{ s ~ s }}", &error)->Render(variables, &out, limits).message(),
            "expression output is larger than 10 bytes (max_output_bytes)");
  limits = {};
  limits.max_iterations = 100;
  status = Template::Compile("{% for a in list %}{% for b in list %}{% endfor %}{% endfor %}", &error)
               ->Render(variables, &out, limits);
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "template loops ran more than 100 iterations (max_iterations)");
  EXPECT_TRUE(Template::Compile("{% for a in list %}{{ a }}{% endfor %}", &error)->Render(variables, &out, limits).ok());
}

TEST(Template, SingleExpressionKeepsTheType) {
  Template::CompileError error;
  auto single = Template::Compile("{{ input.n + 1 }}", &error);
  ASSERT_TRUE(single);
  ASSERT_NE(single->SingleExpression(), nullptr);
  EXPECT_EQ(single->SingleExpression()->Evaluate(expr::JsonVariables(State())).value, 4);
  EXPECT_EQ(single->SingleExpression()->text(), "input.n + 1");
  EXPECT_NE(Template::Compile("{{- input.tags -}}", &error)->SingleExpression(), nullptr);
  EXPECT_EQ(Template::Compile(" {{ input.n }}", &error)->SingleExpression(), nullptr);
  EXPECT_EQ(Template::Compile("{{ a }}{{ b }}", &error)->SingleExpression(), nullptr);
  EXPECT_EQ(Template::Compile("text", &error)->SingleExpression(), nullptr);
}

TEST(Template, PlainText) {
  Template::CompileError error;
  EXPECT_TRUE(Template::Compile("just text { }", &error)->IsPlainText());
  EXPECT_TRUE(Template::Compile("", &error)->IsPlainText());
  EXPECT_FALSE(Template::Compile("a {{ b }}", &error)->IsPlainText());
  EXPECT_FALSE(Template::Compile("a {# b #}", &error)->IsPlainText());
  EXPECT_FALSE(Template::Compile("{# only a comment #}", &error)->IsPlainText());  // found by the fuzzer
  EXPECT_FALSE(Template::Compile("{% raw %}a{% endraw %}", &error)->IsPlainText());
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

TEST(Template, CompileErrorsCarryOffsets) {
  struct Case {
    const char* text;
    const char* message;
    size_t offset;
  };
  const Case cases[] = {
      {"abc {{ input.x", "unclosed '{{' (expected '}}')", 4},
      {"{% if x", "unclosed '{%' (expected '%}')", 0},
      {"a {# x", "unclosed '{#' (expected '#}')", 2},
      {"x {{ }}", "empty placeholder '{{ }}'", 2},
      {"x {{ input..y }}", "expected a name after '.' in placeholder 'input..y'", 11},
      {"{{ a b }}", "unexpected 'b' in placeholder 'a b'", 5},
      {"{{ a. }}", "expected a name after '.' in placeholder 'a.'", 5},
      {"{{ x | lowr }}", "unknown filter 'lowr'; did you mean 'lower'? in placeholder 'x | lowr'", 7},
      {"{{ history[99999999999999999999] }}",
       "index [99999999999999999999] is too large in placeholder 'history[99999999999999999999]'", 10},
      {"{% if x == %}", "unexpected end of expression in '{% if x == %}'", 10},
      {"{% if %}", "expected a condition after 'if'", 5},
      {"{% fro x in y %}", "unknown tag 'fro'; did you mean 'for'?", 0},
      {"{% with %}{% endwith %}", "the 'with' tag is not supported (flowrun templates have if, for, set and raw)", 0},
      {"{% if x %}a", "unclosed 'if' (expected '{% endif %}')", 0},
      {"{% for x in y %}{% if x %}", "unclosed 'if' (expected '{% endif %}')", 16},
      {"a{% endif %}", "unexpected 'endif': no block is open", 1},
      {"{% else %}", "unexpected 'else': no block is open", 0},
      {"{% for x in y %}{% endif %}", "unexpected 'endif'; the open block is 'for', closed by '{% endfor %}'", 16},
      {"{% if a %}{% else %}{% else %}{% endif %}",
       "unexpected 'else'; the open block is 'if', closed by '{% endif %}'", 20},
      {"{% if a %}{% endif x %}", "unexpected 'x' after 'endif'", 19},
      {"{% for x, y in z %}", "a for loop takes one variable (unpacking 'a, b' is not supported)", 8},
      {"{% for x of y %}", "expected 'in' after 'for x'", 9},
      {"{% for x in %}", "expected a list to loop over after 'in'", 11},
      {"{% for loop in y %}", "'loop' is set by for loops; choose another name", 7},
      {"{% set x %}", "expected '=' after 'set x'", 8},
      {"{% set = 1 %}", "expected a name after 'set'", 7},
      {"{% %}", "empty tag '{% %}'", 0},
      {"{% 5 %}", "expected a tag name after '{%'", 0},
      {"{% raw %}abc", "unclosed 'raw' (expected '{% endraw %}')", 0},
      {"{% endraw %}", "unexpected 'endraw': no block is open", 0},
  };
  for (const auto& c : cases) {
    Template::CompileError error;
    EXPECT_FALSE(Template::Compile(c.text, &error)) << c.text;
    EXPECT_EQ(error.message, c.message) << c.text;
    EXPECT_EQ(error.offset, c.offset) << c.text;
  }
  std::string deep;
  for (int i = 0; i < 101; ++i) deep += "{% if x %}";
  Template::CompileError error;
  EXPECT_FALSE(Template::Compile(deep, &error));
  EXPECT_EQ(error.message, "blocks are nested too deeply (more than 100 levels)");
  EXPECT_EQ(error.offset, 1000u);
}

TEST(Template, ReadsLeaveOutLoopAndSetNames) {
  Template::CompileError error;
  const std::string text =
      "{{ input.message }}{% for m in history %}{{ m.content }}{{ loop.index }}{{ reply | default('') }}"
      "{% endfor %}{% set t = input.n %}{{ t }}{{ m }}";
  auto compiled = Template::Compile(text, &error);
  ASSERT_TRUE(compiled) << error.message;
  std::vector<std::string> seen;
  for (const auto& read : compiled->Reads()) {
    seen.push_back(read.text + "@" + std::to_string(read.where.offset) + (read.guarded ? " guarded" : ""));
    EXPECT_EQ(text.substr(read.where.offset, read.where.length), read.text);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"input.message@3", "history@31", "reply@75 guarded", "input.n@120",
                                            "m@140"}));
}

TEST(Template, CheckUsesTheScopeAndTheNamesBoundHere) {
  Template::CompileError error;
  auto compiled = Template::Compile(
      "{% for m in histroy %}{{ m.content ~ loop.index }}{% endfor %}{{ 'a' - 1 }}{% set s = 1 %}{{ s + reply }}",
      &error);
  ASSERT_TRUE(compiled) << error.message;
  std::string out;
  for (const auto& problem : compiled->Check({{"input", "history"}})) {
    out += std::to_string(problem.where.offset) + ": " + problem.message + "\n";
  }
  EXPECT_EQ(out,
            "12: unknown variable 'histroy'; did you mean 'history'?\n"
            "69: cannot apply '-' to a string and a number\n"
            "97: unknown variable 'reply'\n");
}

TEST(Template, ListsVariablesWithOffsets) {
  Template::CompileError error;
  auto compiled = Template::Compile("a {{ input.x }} b {{history}} {{ history[1].content }} {{ history[-1] }}", &error);
  ASSERT_TRUE(compiled);
  auto variables = compiled->Variables();
  ASSERT_EQ(variables.size(), 4u);
  EXPECT_EQ(variables[0]->text, "input.x");
  EXPECT_EQ(variables[0]->offset, 5u);
  EXPECT_EQ(variables[0]->path, (std::vector<Template::PathElement>{"input", "x"}));
  EXPECT_EQ(variables[1]->text, "history");
  EXPECT_EQ(variables[1]->offset, 20u);
  EXPECT_EQ(variables[2]->path, (std::vector<Template::PathElement>{"history", size_t{1}, "content"}));
  EXPECT_EQ(variables[3]->path, (std::vector<Template::PathElement>{"history"}));
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

// The example in README's "Templates" paragraph, as written there.
TEST(Template, TheReadmeExampleRenders) {
  const std::string text =
      "{# a comment #}\n"
      "You are helping {{ input.name | default(\"a customer\") | trim }}.\n"
      "{% if category == \"billing\" %}Mention the billing portal.{% elif category %}Topic: {{ category }}."
      "{% else %}Ask what it is about.{% endif %}\n"
      "{% for m in history[-6:] -%}\n"
      "  {{ loop.index }}. {{ m.role }}: {{ m.content }}\n"
      "{% else %}(no history yet)\n"
      "{% endfor %}\n"
      "{% set total = items | length %}{{ total }} item{{ \"\" if total == 1 else \"s\" }}\n"
      "{% raw %}{{ literal braces }}{% endraw %}\n";
  nlohmann::json state = {{"input", {{"name", " Ada "}}},
                          {"category", "billing"},
                          {"history", {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "yo"}}}},
                          {"items", {1}}};
  EXPECT_EQ(Render(text, state),
            "\nYou are helping Ada.\nMention the billing portal.\n1. user: hi\n2. assistant: yo\n\n1 item\n"
            "{{ literal braces }}\n");
  state["history"] = nlohmann::json::array();
  state["items"] = {1, 2};
  state["category"] = "";
  state["input"] = nlohmann::json::object();
  EXPECT_EQ(Render(text, state),
            "\nYou are helping a customer.\nAsk what it is about.\n(no history yet)\n\n2 items\n{{ literal braces }}\n");
}

}  // namespace
}  // namespace flowrun
