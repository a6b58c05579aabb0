// Tests for SSE framing: the exact text of every event kind, chunk payloads
// identical to nlohmann's dump (invalid UTF-8 included), and appending
// several events into one buffer.
#include "server/sse.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace flowrun {
namespace {

Event Chunk(std::string text) {
  Event event;
  event.type = Event::Type::kChunk;
  event.step = "reply";
  event.text = std::move(text);
  return event;
}

// The framing as it was written before chunks got their own escaper.
std::string ViaNlohmann(const Event& event, uint64_t id) {
  return std::string("event: ") + EventName(event.type) + "\nid: " + std::to_string(id) + "\ndata: " +
         (event.type == Event::Type::kDone ? "[DONE]" : DumpJson(EventData(event))) + "\n\n";
}

TEST(SseTest, FramesEachEventKind) {
  EXPECT_EQ(FormatSseEvent(Chunk("Hel"), 1), "event: chunk\nid: 1\ndata: \"Hel\"\n\n");
  EXPECT_EQ(FormatSseEvent(Chunk("a \"q\"\nb\\"), 12), "event: chunk\nid: 12\ndata: \"a \\\"q\\\"\\nb\\\\\"\n\n");
  EXPECT_EQ(FormatSseEvent(Chunk(""), 0), "event: chunk\nid: 0\ndata: \"\"\n\n");

  Event error;
  error.type = Event::Type::kError;
  error.step = "reply";
  error.path = "reply";
  error.text = "upstream error: \"busy\"";
  EXPECT_EQ(FormatSseEvent(error, 3),
            "event: error\nid: 3\ndata: {\"error\":\"upstream error: \\\"busy\\\"\",\"path\":\"reply\",\"step\":\"reply\"}\n\n");

  Event before;
  before.type = Event::Type::kStepBefore;
  before.step = "reply";
  before.step_type = "llm-stream";
  before.path = "reply";
  before.index = 1;
  EXPECT_EQ(FormatSseEvent(before, 4),
            "event: step:before\nid: 4\ndata: {\"index\":1,\"path\":\"reply\",\"step\":\"reply\",\"type\":\"llm-stream\"}\n\n");

  Event after = before;
  after.type = Event::Type::kStepAfter;
  after.duration_ms = 12.5;
  EXPECT_EQ(FormatSseEvent(after, 5),
            "event: step:after\nid: 5\ndata: "
            "{\"duration_ms\":12.5,\"index\":1,\"path\":\"reply\",\"step\":\"reply\",\"type\":\"llm-stream\"}\n\n");

  // A nested control step: its path, iteration, and what it did.
  Event loop_after;
  loop_after.type = Event::Type::kStepAfter;
  loop_after.step = "revise";
  loop_after.step_type = "loop";
  loop_after.path = "draft/branches.a/revise";
  loop_after.index = 0;
  loop_after.iteration = 2;
  loop_after.iterations = 3;
  loop_after.limit_reached = true;
  loop_after.duration_ms = 4;
  EXPECT_EQ(FormatSseEvent(loop_after, 7),
            "event: step:after\nid: 7\ndata: {\"duration_ms\":4.0,\"index\":0,\"iteration\":2,\"iterations\":3,"
            "\"limit_reached\":true,\"path\":\"draft/branches.a/revise\",\"step\":\"revise\",\"type\":\"loop\"}\n\n");

  // With ?events=all a chunk is an object with its step and path.
  Event chunk = Chunk("Hel");
  chunk.step = "draft";
  chunk.path = "each/steps/draft";
  chunk.iteration = 3;
  EXPECT_EQ(FormatSseEvent(chunk, 8, ChunkForm::kObject),
            "event: chunk\nid: 8\ndata: {\"iteration\":3,\"path\":\"each/steps/draft\",\"step\":\"draft\",\"text\":\"Hel\"}\n\n");
  EXPECT_EQ(FormatSseEvent(chunk, 8), "event: chunk\nid: 8\ndata: \"Hel\"\n\n") << "the default stream keeps its form";

  Event done;
  done.type = Event::Type::kDone;
  EXPECT_EQ(FormatSseEvent(done, 6), "event: done\nid: 6\ndata: [DONE]\n\n");
}

TEST(SseTest, ChunksMatchNlohmannFraming) {
  std::vector<std::string> texts = {"plain", "héllo 日本語 🎉", "tab\there", "cr\rlf\n", "\x7f", "\xE2\x80\xA8",
                                    std::string("nul\0byte", 8), std::string(5000, 'x') + "\"",
                                    // Invalid UTF-8 goes through DumpJson, which substitutes U+FFFD.
                                    "bad \xFF byte", "cut \xE2\x82", "\xED\xA0\x80 surrogate"};
  for (int c = 0; c < 0x20; ++c) texts.push_back(std::string(1, static_cast<char>(c)));
  for (const std::string& text : texts) {
    const Event event = Chunk(text);
    const std::string framed = FormatSseEvent(event, 42);
    EXPECT_EQ(framed, ViaNlohmann(event, 42));
    // One data line whose payload is JSON holding the text (or its repair).
    const std::string prefix = "event: chunk\nid: 42\ndata: ";
    ASSERT_EQ(framed.rfind(prefix, 0), 0u);
    const std::string payload = framed.substr(prefix.size(), framed.size() - prefix.size() - 2);
    EXPECT_EQ(payload.find_first_of("\r\n"), std::string::npos) << payload;
    EXPECT_TRUE(nlohmann::json::accept(payload)) << payload;
  }
  // A valid chunk's payload decodes back to the text.
  const std::string framed = FormatSseEvent(Chunk("é\n\"🎉\"\x01"), 1);
  const std::string prefix = "event: chunk\nid: 1\ndata: ";
  EXPECT_EQ(nlohmann::json::parse(framed.substr(prefix.size())).get<std::string>(), "é\n\"🎉\"\x01");
}

TEST(SseTest, AppendBatchesEventsIntoOneBuffer) {
  // With ?events=all a chunk is an object with its step and path.
  Event chunk = Chunk("Hel");
  chunk.step = "draft";
  chunk.path = "each/steps/draft";
  chunk.iteration = 3;
  EXPECT_EQ(FormatSseEvent(chunk, 8, ChunkForm::kObject),
            "event: chunk\nid: 8\ndata: {\"iteration\":3,\"path\":\"each/steps/draft\",\"step\":\"draft\",\"text\":\"Hel\"}\n\n");
  EXPECT_EQ(FormatSseEvent(chunk, 8), "event: chunk\nid: 8\ndata: \"Hel\"\n\n") << "the default stream keeps its form";

  Event done;
  done.type = Event::Type::kDone;
  const std::vector<Event> events = {Chunk("a"), Chunk("b\n"), Chunk("c \xFF"), done};
  std::string batch = "retry: 1000\n\n";
  std::string expected = batch;
  uint64_t id = 7;
  for (const Event& event : events) {
    expected += FormatSseEvent(event, id);
    AppendSseEvent(event, id++, batch);
  }
  EXPECT_EQ(batch, expected);
  EXPECT_EQ(batch,
            "retry: 1000\n\n"
            "event: chunk\nid: 7\ndata: \"a\"\n\n"
            "event: chunk\nid: 8\ndata: \"b\\n\"\n\n"
            "event: chunk\nid: 9\ndata: \"c \xEF\xBF\xBD\"\n\n"
            "event: done\nid: 10\ndata: [DONE]\n\n");
}

TEST(SseTest, FormatsTheWholeIdRange) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(FormatSseEvent(Chunk("x"), kMax), "event: chunk\nid: 18446744073709551615\ndata: \"x\"\n\n");
}

}  // namespace
}  // namespace flowrun
