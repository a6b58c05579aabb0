// ToolCallAssembler: fragments of parallel tool calls interleaved by index
// are never merged; ids and names come from the first fragment that has
// them; the limits are errors that name them.
#include "llm/tool_call_assembler.h"

#include <gtest/gtest.h>

#include <string>

namespace flowrun {
namespace {

TEST(ToolCallAssemblerTest, InterleavedFragmentsStayWithTheirIndex) {
  ToolCallAssembler tools;
  ASSERT_TRUE(tools.Add(0, "call_a", "get_weather", "").ok());
  ASSERT_TRUE(tools.Add(1, "call_b", "get_time", "{\"tz\":").ok());
  ASSERT_TRUE(tools.Add(0, "", "", "{\"city\":").ok());
  ASSERT_TRUE(tools.Add(1, "", "", "\"UTC\"}").ok());
  ASSERT_TRUE(tools.Add(0, "", "", "\"Paris\"}").ok());
  const auto calls = tools.Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].id, "call_a");
  EXPECT_EQ(calls[0].name, "get_weather");
  EXPECT_EQ(calls[0].arguments, "{\"city\":\"Paris\"}");
  EXPECT_EQ(calls[1].id, "call_b");
  EXPECT_EQ(calls[1].name, "get_time");
  EXPECT_EQ(calls[1].arguments, "{\"tz\":\"UTC\"}");
}

TEST(ToolCallAssemblerTest, CallsComeInIndexOrderWhateverTheArrivalOrder) {
  ToolCallAssembler tools;
  ASSERT_TRUE(tools.Add(2, "c", "third", "{}").ok());
  ASSERT_TRUE(tools.Add(0, "a", "first", "{}").ok());
  ASSERT_TRUE(tools.Add(1, "b", "second", "{}").ok());
  const auto calls = tools.Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].name, "first");
  EXPECT_EQ(calls[1].name, "second");
  EXPECT_EQ(calls[2].name, "third");
}

TEST(ToolCallAssemblerTest, TheFirstIdAndNameCountAndAMissingIdIsMadeUp) {
  ToolCallAssembler tools;
  ASSERT_TRUE(tools.Add(3, "", "", "{\"a\":").ok());
  ASSERT_TRUE(tools.Add(3, "", "lookup", "1").ok());
  ASSERT_TRUE(tools.Add(3, "", "other", "}").ok());
  const auto calls = tools.Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].id, "call_3");
  EXPECT_EQ(calls[0].name, "lookup");
  EXPECT_EQ(calls[0].arguments, "{\"a\":1}");
}

TEST(ToolCallAssemblerTest, MoreCallsThanTheLimitIsAnErrorNamingIt) {
  ToolCallAssembler tools;
  for (long long i = 0; i < static_cast<long long>(ToolCallAssembler::kMaxToolCalls); ++i) {
    ASSERT_TRUE(tools.Add(i, "id", "f", "{}").ok());
  }
  const Status over = tools.Add(64, "id", "f", "{}");
  EXPECT_EQ(over.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(over.message(), "upstream sent more than 64 tool calls in one answer (the limit)");
  EXPECT_TRUE(tools.Add(63, "", "", " ").ok()) << "a known index still takes fragments";
  EXPECT_EQ(tools.Calls().size(), 64u);
}

TEST(ToolCallAssemblerTest, ArgumentsOverTheLimitAreAnErrorNamingIt) {
  ToolCallAssembler tools;
  const std::string half(ToolCallAssembler::kMaxToolArgumentBytes / 2, 'x');
  ASSERT_TRUE(tools.Add(0, "id", "f", half).ok());
  ASSERT_TRUE(tools.Add(0, "", "", half).ok());
  const Status over = tools.Add(0, "", "", "y");
  EXPECT_EQ(over.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(over.message(), "upstream sent tool call arguments over the limit of 1048576 bytes (tool call 0)");
  EXPECT_EQ(tools.Calls()[0].arguments.size(), ToolCallAssembler::kMaxToolArgumentBytes);
}

}  // namespace
}  // namespace flowrun
