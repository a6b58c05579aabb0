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

}  // namespace
}  // namespace flowrun
