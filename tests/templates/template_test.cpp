#include "templates/template.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

std::string Render(const std::string& text, const nlohmann::json& state) {
  Template::CompileError error;
  auto compiled = Template::Compile(text, &error);
  EXPECT_TRUE(compiled) << error.message;
  std::string out;
  Status status = compiled->Render(state, &out);
  return status.ok() ? out : "ERROR: " + status.message();
}

TEST(Template, RendersPathsIndicesAndTypes) {
  nlohmann::json state = {{"input", {{"message", "hi"}, {"n", 3}, {"empty", nullptr}}},
                          {"history", {{{"role", "user"}, {"content", "first"}}}}};
  EXPECT_EQ(Render("Q: {{ input.message }}!", state), "Q: hi!");
  EXPECT_EQ(Render("{{input.n}}/{{ input.empty }}/", state), "3//");
  EXPECT_EQ(Render("{{ history[0].content }}", state), "first");
  EXPECT_EQ(Render("{{ history[0] }}", state), R"({"content":"first","role":"user"})");
  EXPECT_EQ(Render("no placeholders", state), "no placeholders");
  EXPECT_EQ(Render("", state), "");
}

TEST(Template, MissingPathIsAnErrorNamingIt) {
  nlohmann::json state = {{"input", {{"message", "hi"}}}, {"history", nlohmann::json::array()}};
  EXPECT_EQ(Render("{{ input.nope }}", state), "ERROR: template variable 'input.nope' is undefined ('input.nope' is missing)");
  EXPECT_EQ(Render("{{ history[2].content }}", state),
            "ERROR: template variable 'history[2].content' is undefined ('history[2]' is missing)");
  Template::CompileError error;
  std::string out;
  EXPECT_EQ(Template::Compile("{{ input.nope }}", &error)->Render(state, &out).code(), StatusCode::kNotFound);
}

TEST(Template, CompileErrorsCarryOffsets) {
  struct Case {
    const char* text;
    const char* message;
    size_t offset;
  };
  const Case cases[] = {
      {"abc {{ input.x", "unclosed '{{' (expected '}}')", 4},
      {"x {{ }}", "empty placeholder '{{ }}'", 2},
      {"x {{ input..y }}", "expected a name in placeholder 'input..y'", 11},
      {"{{ a[x] }}", "expected an index like [0] in placeholder 'a[x]'", 4},
      {"{{ a b }}", "unexpected ' ' in placeholder 'a b'", 4},
      {"{{ a. }}", "placeholder 'a.' ends with '.'", 5},
  };
  for (const auto& c : cases) {
    Template::CompileError error;
    EXPECT_FALSE(Template::Compile(c.text, &error)) << c.text;
    EXPECT_EQ(error.message, c.message) << c.text;
    EXPECT_EQ(error.offset, c.offset) << c.text;
  }
}

TEST(Template, ListsVariablesWithOffsets) {
  Template::CompileError error;
  auto compiled = Template::Compile("a {{ input.x }} b {{history}}", &error);
  ASSERT_TRUE(compiled);
  auto variables = compiled->Variables();
  ASSERT_EQ(variables.size(), 2u);
  EXPECT_EQ(variables[0]->text, "input.x");
  EXPECT_EQ(variables[0]->offset, 5u);
  EXPECT_EQ(variables[1]->text, "history");
  EXPECT_EQ(variables[1]->offset, 20u);
}

}  // namespace
}  // namespace flowrun
