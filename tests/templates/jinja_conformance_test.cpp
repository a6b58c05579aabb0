// Jinja conformance: every MiniJinja case in FLOWRUN_JINJA_CASES (a JSON
// context, a line `---`, the template; NAME.expected holds the output) is
// rendered and compared, after stripping trailing newlines from both.
//
// The formatting rule (decided once, here): Jinja prints values in
// Python's style, flowrun as JSON. Both outputs are compared after the
// same normalisation: the words True/False/None become true/false/null,
// single quotes become double quotes, and a space after ',' or ':' is
// dropped. Everything else must match byte for byte; in particular null
// renders as nothing in flowrun, where Jinja prints None.
//
// A case outside flowrun's subset is in kSkipped with the feature it
// needs. A skipped case that starts to pass fails too (take it off the
// list), and so does a skip entry with no case.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "templates/template.h"

namespace flowrun {
namespace {

const std::map<std::string, std::string> kSkipped = {
    {"filters", "filters outside the subset (title, capitalize, escape, safe, list, bool, count, reverse, min, max, "
                "sort, urlencode, batch, slice, items, indent, select, reject, map, attr, unique, pprint, sum, "
                "lines, chain, zip), keyword arguments, dict() and range()"},
    {"ifexpr", "an inline if without else (flowrun requires the else)"},
    {"literals", "integers beyond 64 bits"},
    {"loop_filter", "loop filters (for x in seq if cond)"},
    {"loop_var", "loop.cycle(), loop.previtem and loop.nextitem"},
    {"mul", "range()"},
    {"set", "{% with %} and block set ({% set x %}...{% endset %})"},
    {"tojson", "keyword arguments (tojson(indent=4))"},
    {"undefined", "null renders as nothing (Jinja prints None)"},
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string StripTrailingNewlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The formatting rule above.
std::string Normalize(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool word_start = i == 0 || !IsWordChar(text[i - 1]);
    bool replaced = false;
    for (const auto& [python, json] : {std::pair{"True", "true"}, {"False", "false"}, {"None", "null"}}) {
      const size_t length = std::char_traits<char>::length(python);
      if (word_start && text.compare(i, length, python) == 0 &&
          (i + length == text.size() || !IsWordChar(text[i + length]))) {
        out += json;
        i += length - 1;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    if (text[i] == '\'') {
      out += '"';
    } else {
      out += text[i];
      if ((text[i] == ',' || text[i] == ':') && i + 1 < text.size() && text[i + 1] == ' ') ++i;
    }
  }
  return out;
}

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(FLOWRUN_JINJA_CASES, error)) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// What flowrun renders for the case, or "ERROR: ..." / "COMPILE ERROR: ...".
std::string RenderCase(const std::string& name) {
  const std::string source = ReadFile(std::filesystem::path(FLOWRUN_JINJA_CASES) / (name + ".txt"));
  const size_t separator = source.find("\n---\n");
  if (separator == std::string::npos) return "BAD CASE: no '---' line";
  const nlohmann::json context = nlohmann::json::parse(source.substr(0, separator));
  Template::CompileError error;
  auto compiled = Template::Compile(source.substr(separator + 5), &error);
  if (!compiled) return "COMPILE ERROR at " + std::to_string(error.offset) + ": " + error.message;
  std::string out;
  Status status = compiled->Render(context, &out);
  return status.ok() ? out : "ERROR: " + status.message();
}

class JinjaCase : public ::testing::TestWithParam<std::string> {};

TEST_P(JinjaCase, RendersAsJinja) {
  const std::string& name = GetParam();
  const std::string expected = ReadFile(std::filesystem::path(FLOWRUN_JINJA_CASES) / (name + ".expected"));
  const std::string actual = RenderCase(name);
  const bool same = Normalize(StripTrailingNewlines(actual)) == Normalize(StripTrailingNewlines(expected));
  auto skipped = kSkipped.find(name);
  if (skipped == kSkipped.end()) {
    EXPECT_TRUE(same) << "case " << name << "\n--- expected:\n" << expected << "\n--- flowrun:\n" << actual;
  } else {
    EXPECT_FALSE(same) << "case " << name << " is skipped (" << skipped->second
                       << ") but now passes: take it off the skip list";
  }
}

INSTANTIATE_TEST_SUITE_P(MiniJinja, JinjaCase, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& case_info) { return case_info.param; });

TEST(JinjaConformance, CasesAreThereAndTheSkipListIsShortAndReal) {
  const std::vector<std::string> names = CaseNames();
  ASSERT_GE(names.size(), 20u) << "no Jinja cases found in " << FLOWRUN_JINJA_CASES;
  for (const auto& [name, reason] : kSkipped) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << "skip entry without a case: " << name;
  }
  EXPECT_LE(kSkipped.size() * 3, names.size()) << "the skip list should stay short";
}

TEST(JinjaConformance, TheFormattingRule) {
  EXPECT_EQ(Normalize("[True, None, 'a', {'k': 1}]"), "[true,null,\"a\",{\"k\":1}]");
  EXPECT_EQ(Normalize("Trueish NoneSuch"), "Trueish NoneSuch");
  EXPECT_EQ(Normalize(R"(["a","b"])"), R"(["a","b"])");
}

}  // namespace
}  // namespace flowrun
