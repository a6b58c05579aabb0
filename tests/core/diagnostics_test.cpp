#include "core/diagnostics.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

TEST(Diagnostics, FormatsLineColumnSourceAndCaret) {
  Diagnostics diagnostics("flows/chat.yaml", "a: 1\n    type: llm-strem\n");
  diagnostics.Error({2, 11, 9}, "unknown step type 'llm-strem'; did you mean 'llm-stream'?");
  EXPECT_EQ(diagnostics.ToString(),
            "flows/chat.yaml:2:11: error: unknown step type 'llm-strem'; did you mean 'llm-stream'?\n"
            "        type: llm-strem\n"
            "              ^~~~~~~~~\n");
}

TEST(Diagnostics, SortsByPositionAndOmitsUnknownPositions) {
  Diagnostics diagnostics("f.yaml", "x\ny\n");
  diagnostics.Error({2, 1, 1}, "second");
  diagnostics.Error({1, 1, 1}, "first");
  EXPECT_EQ(diagnostics.ToString(), "f.yaml:1:1: error: first\n    x\n    ^\nf.yaml:2:1: error: second\n    y\n    ^\n");
  Diagnostics no_position("f.yaml");
  no_position.Error({}, "cannot read file: No such file or directory");
  EXPECT_EQ(no_position.ToString(), "f.yaml: error: cannot read file: No such file or directory\n");
}

TEST(Diagnostics, LongLinesShowAWindowAroundTheColumn) {
  std::string line = std::string(1000, 'a') + "BAD" + std::string(1000, 'b');
  Diagnostics diagnostics("f.yaml", line + "\n");
  diagnostics.Error({1, 1001, 3}, "bad");
  const std::string shown = std::string(80, 'a') + "BAD" + std::string(77, 'b');
  EXPECT_EQ(diagnostics.ToString(), "f.yaml:1:1001: error: bad\n    ..." + shown + "...\n       " +
                                        std::string(80, ' ') + "^~~\n");
}

TEST(Diagnostics, ManyErrorsAreCountedAfterTheFirstHundred) {
  Diagnostics diagnostics("f.yaml", "x\n");
  for (int i = 0; i < 250; ++i) diagnostics.Error({}, "e" + std::to_string(i));
  const std::string text = diagnostics.ToString();
  EXPECT_NE(text.find("f.yaml: error: e99\n"), std::string::npos);
  EXPECT_EQ(text.find("f.yaml: error: e100\n"), std::string::npos);
  EXPECT_TRUE(text.ends_with("f.yaml: 150 more errors not shown\n")) << text.substr(text.size() - 100);
}

// Found by the flow_loader fuzzer: a column past the end of a long line
// (a position inside a scalar that spans lines) put the window past the
// line's end, and substr threw.
TEST(Diagnostics, AColumnPastTheEndOfALongLineMarksItsEnd) {
  const std::string line(200, 'x');
  const std::string text = FormatDiagnosticAtLine({"f.yaml", {1, 400, 1}, "bad", false}, line);
  EXPECT_TRUE(text.starts_with("f.yaml:1:400: error: bad\n    ...")) << text;
  EXPECT_TRUE(text.ends_with("^\n")) << text;
}

}  // namespace
}  // namespace flowrun
