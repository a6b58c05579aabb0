// Feeds a recorded stream body through the framing (SSE or NDJSON) and a
// protocol's StreamDecoder exactly as StreamAttempt does, in pieces, and
// keeps what came out: for the "split at every byte boundary" tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "llm/ndjson_line_parser.h"
#include "llm/sse_line_parser.h"
#include "llm/wire_protocol.h"

namespace flowrun::testing {

struct Decoded {
  std::string text;
  std::string reasoning;
  bool ended = false;  // the end marker arrived
  Status status;       // the first error, Ok when none
  bool retryable = false;
  DecodedAnswer answer;

  std::string Summary() const {
    std::string calls;
    for (const ToolCall& call : answer.tool_calls) calls += "[" + call.id + " " + call.name + " " + call.arguments + "]";
    return "text=" + text + " reasoning=" + reasoning + " ended=" + std::to_string(ended) +
           " status=" + status.message() + " finished=" + std::to_string(answer.finished) +
           " reason=" + answer.finish_reason + " usage=" + std::to_string(answer.prompt_tokens) + "/" +
           std::to_string(answer.completion_tokens) + " calls=" + calls + " refusal=" + answer.refusal;
  }
};

// Decodes `body` fed as `pieces` (cut at `cuts`, ascending byte offsets).
inline Decoded DecodeInPieces(WireProtocol::Framing framing, StreamDecoder& decoder, const std::string& body,
                              const std::vector<std::size_t>& cuts) {
  Decoded out;
  bool stopped = false;
  auto on_message = [&](std::string_view event, std::string_view data) {
    DecodedMessage message;
    Status status = decoder.Decode(event, data, &message);
    if (!status.ok()) {
      out.status = status;
      out.retryable = message.retryable;
      stopped = true;
      return false;
    }
    out.text += message.text;
    out.reasoning += message.reasoning;
    if (message.end) {
      out.ended = true;
      stopped = true;
      return false;
    }
    return true;
  };
  SseLineParser sse;
  NdjsonLineParser lines;
  std::size_t start = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(body.size());
  for (std::size_t end : ends) {
    if (stopped) break;
    const std::string_view piece = std::string_view(body).substr(start, end - start);
    start = end;
    if (framing == WireProtocol::Framing::kSse) {
      sse.Feed(piece, [&](const SseEvent& event) { return on_message(event.event, event.data); });
    } else {
      lines.Feed(piece, [&](std::string_view line) { return on_message({}, line); });
    }
  }
  if (!stopped) {
    if (framing == WireProtocol::Framing::kSse) {
      sse.Finish([&](const SseEvent& event) { return on_message(event.event, event.data); });
    } else {
      lines.Finish([&](std::string_view line) { return on_message({}, line); });
    }
  }
  out.answer = decoder.Answer();
  return out;
}

// Decodes `body` whole, then split once at every byte boundary, with a new
// decoder from `make` each time; every split must give the whole's result.
inline Decoded DecodeAtEveryBoundary(WireProtocol::Framing framing,
                                     const std::function<std::unique_ptr<StreamDecoder>()>& make,
                                     const std::string& body) {
  auto whole_decoder = make();
  const Decoded whole = DecodeInPieces(framing, *whole_decoder, body, {});
  for (std::size_t cut = 1; cut < body.size(); ++cut) {
    auto decoder = make();
    const Decoded split = DecodeInPieces(framing, *decoder, body, {cut});
    EXPECT_EQ(split.Summary(), whole.Summary()) << "split at byte " << cut;
    if (split.Summary() != whole.Summary()) break;
  }
  // And one byte at a time.
  std::vector<std::size_t> every;
  for (std::size_t cut = 1; cut < body.size(); ++cut) every.push_back(cut);
  auto decoder = make();
  EXPECT_EQ(DecodeInPieces(framing, *decoder, body, every).Summary(), whole.Summary()) << "one byte at a time";
  return whole;
}

}  // namespace flowrun::testing
