// libFuzzer target: SseLineParser. The same bytes are fed in one piece, split
// in two at a position chosen by the first byte, and one byte at a time; the
// events, failure state and end-of-stream tail must not depend on the split.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "llm/sse_line_parser.h"
#include "fuzz_check.h"

namespace {

// Small limits so the fuzzer reaches the too-large paths too.
constexpr std::size_t kMaxLine = 256;
constexpr std::size_t kMaxEvent = 1024;

struct Outcome {
  std::vector<std::tuple<std::string, std::string, std::string>> events;  // event, data, id
  bool failed = false;
  std::string error;
  bool partial_line = false;
  bool pending_event = false;

  bool operator==(const Outcome&) const = default;
};

Outcome Parse(const std::vector<std::string_view>& pieces) {
  flowrun::SseLineParser parser(kMaxLine, kMaxEvent);
  Outcome outcome;
  const flowrun::SseEventHandler record = [&outcome](const flowrun::SseEvent& event) {
    outcome.events.emplace_back(event.event, event.data, event.id);
    return true;
  };
  for (std::string_view piece : pieces) {
    const auto result = parser.Feed(piece, record);
    FUZZ_CHECK((result == flowrun::SseFeedResult::kTooLarge) == parser.failed());
  }
  outcome.failed = parser.failed();
  outcome.error = parser.error();
  FUZZ_CHECK(!outcome.failed || !outcome.error.empty());
  const flowrun::SseTail tail = parser.Finish(record);
  outcome.partial_line = tail.partial_line;
  outcome.pending_event = tail.pending_event;
  // Finish resets the parser: it must behave like a new one afterwards.
  FUZZ_CHECK(!parser.failed() && parser.Finish().clean());
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Outcome whole = Parse({bytes});

  const std::size_t split = size == 0 ? 0 : size * data[0] / 255;
  FUZZ_CHECK(Parse({bytes.substr(0, split), bytes.substr(split)}) == whole);

  std::vector<std::string_view> single_bytes;
  for (std::size_t i = 0; i < size; ++i) single_bytes.push_back(bytes.substr(i, 1));
  FUZZ_CHECK(Parse(single_bytes) == whole);
  return 0;
}
