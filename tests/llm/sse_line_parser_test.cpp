// Tests for SseLineParser: arbitrary splits of a recorded OpenAI stream,
// line-ending variants, field rules, and the memory bound.
#include "llm/sse_line_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "llm/openai_wire.h"

namespace flowrun {
namespace {

const char* const kExpectedText = "Hello! héllo 日本語 🎉 café He said \"hi\"\nthen left. Done.";

std::string ReadTestData(const std::string& name) {
  std::ifstream file(std::string(FLOWRUN_TEST_DATA) + "/" + name, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Feeds `pieces` and returns the text of all deltas; fails the test on any
// parse problem or a missing [DONE].
std::string TextOf(const std::vector<std::string_view>& pieces) {
  SseLineParser parser;
  std::string text;
  bool done = false;
  for (std::string_view piece : pieces) {
    const SseFeedResult result = parser.Feed(piece, [&](const SseEvent& event) {
      OpenAiChunk chunk;
      EXPECT_TRUE(ParseOpenAiChunk(event.data, &chunk).ok()) << event.data;
      EXPECT_FALSE(done) << "event after [DONE]";
      done = done || chunk.done;
      text += chunk.content;
      return true;
    });
    EXPECT_EQ(result, SseFeedResult::kOk);
  }
  EXPECT_TRUE(done);
  EXPECT_TRUE(parser.Finish().clean());
  return text;
}

class RecordedStreamTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RecordedStreamTest, EveryTwoPieceSplitGivesTheSameText) {
  const std::string stream = ReadTestData(GetParam());
  ASSERT_FALSE(stream.empty());
  const std::string_view all(stream);
  for (std::size_t cut = 0; cut <= all.size(); ++cut) {
    ASSERT_EQ(TextOf({all.substr(0, cut), all.substr(cut)}), kExpectedText) << "cut at " << cut;
  }
}

TEST_P(RecordedStreamTest, ByteByByteGivesTheSameText) {
  const std::string stream = ReadTestData(GetParam());
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
  EXPECT_EQ(TextOf(bytes), kExpectedText);
}

INSTANTIATE_TEST_SUITE_P(LineEndings, RecordedStreamTest,
                         ::testing::Values("openai_stream.txt", "openai_stream_crlf.txt"));

std::vector<std::string> Data(const std::vector<SseEvent>& events) {
  std::vector<std::string> data;
  for (const auto& event : events) data.push_back(event.data);
  return data;
}

TEST(SseLineParserTest, IgnoresCommentsAndUnknownFields) {
  SseLineParser parser;
  auto events = parser.Feed(": keep-alive\n\nretry: 10\nfoo: bar\ndata: x\n: inside\n\n");
  EXPECT_EQ(Data(events), std::vector<std::string>{"x"});
}

TEST(SseLineParserTest, StripsExactlyOneSpaceAfterTheColon) {
  SseLineParser parser;
  auto events = parser.Feed("data:a\n\ndata: b\n\ndata:  c\n\ndata\n\ndata:\n\n");
  EXPECT_EQ(Data(events), (std::vector<std::string>{"a", "b", " c", "", ""}));
}

TEST(SseLineParserTest, JoinsDataLinesWithNewline) {
  SseLineParser parser;
  auto events = parser.Feed("data: one\ndata: two\r\ndata: three\rdata:\n\n");
  EXPECT_EQ(Data(events), std::vector<std::string>{"one\ntwo\nthree\n"});
}

TEST(SseLineParserTest, AcceptsAllThreeLineEndings) {
  SseLineParser parser;
  auto events = parser.Feed("data: a\r\n\r\ndata: b\r\rdata: c\n\n");
  EXPECT_EQ(Data(events), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SseLineParserTest, CrLfSplitAcrossFeedsIsOneTerminator) {
  SseLineParser parser;
  EXPECT_TRUE(parser.Feed("data: a\r").empty());
  EXPECT_TRUE(parser.Feed("").empty());
  EXPECT_TRUE(parser.Feed("\ndata: b\r").empty());
  auto events = parser.Feed("\n\r");
  EXPECT_EQ(Data(events), std::vector<std::string>{"a\nb"});
  events = parser.Feed("\ndata: c\n\n");  // this "\n" follows a lone '\r': swallowed
  EXPECT_EQ(Data(events), std::vector<std::string>{"c"});
}

TEST(SseLineParserTest, ReportsEventNameAndPersistentId) {
  SseLineParser parser;
  auto events = parser.Feed("event: delta\nid: 7\ndata: x\n\ndata: y\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "delta");
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[1].event, "");
  EXPECT_EQ(events[1].id, "7");
}

TEST(SseLineParserTest, DoesNotDispatchEventsWithoutData) {
  SseLineParser parser;
  EXPECT_TRUE(parser.Feed("event: ping\n\nid: 3\n\n\n\n").empty());
}

TEST(SseLineParserTest, StripsLeadingByteOrderMark) {
  SseLineParser parser;
  EXPECT_TRUE(parser.Feed("\xEF\xBB").empty());
  EXPECT_EQ(Data(parser.Feed("\xBF" "data: x\n\n")), std::vector<std::string>{"x"});
}

TEST(SseLineParserTest, HandlerCanStopParsing) {
  SseLineParser parser;
  int seen = 0;
  auto result = parser.Feed("data: 1\n\ndata: 2\n\n", [&](const SseEvent&) { return ++seen < 1; });
  EXPECT_EQ(result, SseFeedResult::kStopped);
  EXPECT_EQ(seen, 1);
}

TEST(SseLineParserTest, OverLongLineIsAnErrorAcrossFeeds) {
  SseLineParser parser(/*max_line_bytes=*/16);
  EXPECT_EQ(Data(parser.Feed("data: 0123456789\n\n")), std::vector<std::string>{"0123456789"});
  std::string line = "data: ";
  EXPECT_EQ(parser.Feed(line, nullptr), SseFeedResult::kOk);
  EXPECT_EQ(parser.Feed("0123456789", nullptr), SseFeedResult::kOk);  // exactly 16 bytes pending
  EXPECT_EQ(parser.Feed("X", nullptr), SseFeedResult::kTooLarge);
  EXPECT_TRUE(parser.failed());
  EXPECT_NE(parser.error().find("longer than 16 bytes"), std::string::npos);
  // Once failed, the parser stays failed and buffers nothing more.
  EXPECT_EQ(parser.Feed("\n\n", nullptr), SseFeedResult::kTooLarge);
}

TEST(SseLineParserTest, OverLongCompleteLineIsAnError) {
  SseLineParser parser(/*max_line_bytes=*/8);
  EXPECT_EQ(parser.Feed("data: 0123456789\n\n", nullptr), SseFeedResult::kTooLarge);
}

TEST(SseLineParserTest, ManyDataLinesCannotGrowAnEventWithoutBound) {
  SseLineParser parser(/*max_line_bytes=*/64, /*max_event_bytes=*/32);
  SseFeedResult result = SseFeedResult::kOk;
  for (int i = 0; i < 100 && result == SseFeedResult::kOk; ++i) result = parser.Feed("data: 0123456789\n", nullptr);
  EXPECT_EQ(result, SseFeedResult::kTooLarge);
  EXPECT_NE(parser.error().find("larger than 32 bytes"), std::string::npos);
}

TEST(SseLineParserTest, FinishReportsLeftovers) {
  SseLineParser parser;
  parser.Feed("data: a\n\n");
  EXPECT_TRUE(parser.Finish().clean());

  parser.Feed("data: {\"partial");
  SseTail tail = parser.Finish();
  EXPECT_TRUE(tail.partial_line);
  EXPECT_FALSE(tail.pending_event);

  EXPECT_TRUE(parser.Feed("data: whole\n").empty());
  std::vector<std::string> flushed;
  tail = parser.Finish([&](const SseEvent& event) {
    flushed.push_back(event.data);
    return true;
  });
  EXPECT_FALSE(tail.partial_line);
  EXPECT_TRUE(tail.pending_event);
  EXPECT_EQ(flushed, std::vector<std::string>{"whole"});

  // Finish resets: the parser can read a new stream.
  EXPECT_EQ(Data(parser.Feed("data: again\n\n")), std::vector<std::string>{"again"});
}

}  // namespace
}  // namespace flowrun
