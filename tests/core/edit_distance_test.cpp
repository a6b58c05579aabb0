#include "core/edit_distance.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

TEST(EditDistance, CountsInsertDeleteReplace) {
  EXPECT_EQ(EditDistance("", ""), 0);
  EXPECT_EQ(EditDistance("abc", ""), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("llm-strem", "llm-stream"), 1);
}

TEST(EditDistance, SuggestsOnlyCloseNames) {
  std::vector<std::string> names = {"append-message", "llm-stream", "append-reply"};
  EXPECT_EQ(DidYouMean("llm-strem", names), "; did you mean 'llm-stream'?");
  EXPECT_EQ(DidYouMean("append-replay", names), "; did you mean 'append-reply'?");
  EXPECT_EQ(DidYouMean("database", names), "");
  EXPECT_EQ(ClosestMatch("x", {}), std::nullopt);
}

}  // namespace
}  // namespace flowrun
