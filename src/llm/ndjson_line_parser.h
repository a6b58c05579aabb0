// NdjsonLineParser: splits a newline-delimited JSON body (Ollama's native
// stream) into lines as bytes arrive, split anywhere. Blank lines are
// skipped and a trailing '\r' is dropped. Memory is bounded like
// SseLineParser's: a line longer than the limit is an error, not an
// ever-growing buffer. Thread-compatible: one parser per stream.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "llm/sse_line_parser.h"

namespace flowrun {

// Returns false to stop parsing (the rest of the fed bytes are dropped).
using LineHandler = std::function<bool(std::string_view line)>;

class NdjsonLineParser {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{1} << 20;

  explicit NdjsonLineParser(std::size_t max_line_bytes = kDefaultMaxLineBytes) : max_line_bytes_(max_line_bytes) {}

  // kOk, kStopped (the handler returned false) or kTooLarge (then failed()
  // stays true and every later Feed returns kTooLarge).
  SseFeedResult Feed(std::string_view bytes, const LineHandler& on_line);

  // Ends the stream: a last line without its '\n' is handed to `on_line`
  // (servers may close right after it). Resets the parser.
  void Finish(const LineHandler& on_line);

  bool failed() const { return failed_; }
  // e.g. "NDJSON line longer than 1048576 bytes"
  const std::string& error() const { return error_; }

 private:
  bool Dispatch(std::string_view line, const LineHandler& on_line);

  std::size_t max_line_bytes_;
  std::string partial_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace flowrun
