// SseLineParser: incremental parser for a text/event-stream body, as sent by
// OpenAI-compatible servers. Bytes may arrive split anywhere (inside UTF-8,
// between \r and \n); complete events come out as soon as their blank line
// arrives. Memory is bounded: an over-long line or event is an error instead
// of an ever-growing buffer.
// Thread-compatible: one parser per stream, used from one thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace flowrun {

// One dispatched event. The parser reuses the event handed to a handler (no
// allocation per event once buffers have grown); copy what must outlive it.
struct SseEvent {
  std::string event;  // "event:" field; empty means the default "message"
  std::string data;   // "data:" lines joined with '\n'
  std::string id;     // last "id:" seen on the stream (persists per spec)
};

// Returns false to stop parsing (the rest of the fed bytes are dropped).
using SseEventHandler = std::function<bool(const SseEvent& event)>;

enum class SseFeedResult {
  kOk,        // all bytes consumed
  kStopped,   // the handler returned false
  kTooLarge,  // a line or event exceeded its limit; the parser stays failed
};

// What was left over when the stream ended.
struct SseTail {
  bool partial_line = false;   // bytes after the last line terminator
  bool pending_event = false;  // field lines not yet closed by a blank line
  bool clean() const { return !partial_line && !pending_event; }
};

class SseLineParser {
 public:
  static constexpr std::size_t kDefaultMaxLineBytes = std::size_t{1} << 20;
  static constexpr std::size_t kDefaultMaxEventBytes = std::size_t{4} << 20;

  explicit SseLineParser(std::size_t max_line_bytes = kDefaultMaxLineBytes,
                         std::size_t max_event_bytes = kDefaultMaxEventBytes);

  // Parses `bytes`, calling `on_event` for every event completed by them.
  // After kTooLarge every further Feed returns kTooLarge without parsing.
  SseFeedResult Feed(std::string_view bytes, const SseEventHandler& on_event);

  // Convenience for tests and small streams: returns the completed events.
  // Check failed() afterwards to learn about a limit being exceeded.
  std::vector<SseEvent> Feed(std::string_view bytes);

  // Ends the stream and reports what was left over. Per the SSE spec a
  // partial line is dropped; an event whose lines all ended but which lacks
  // its closing blank line is also dropped unless `on_event` is given, in
  // which case it is dispatched (lenient towards servers that close right
  // after the last data line). Resets the parser for reuse.
  SseTail Finish(const SseEventHandler& on_event = nullptr);

  bool failed() const { return failed_; }
  // Why the parser failed, e.g. "SSE line longer than 1048576 bytes".
  const std::string& error() const { return error_; }

 private:
  // Handles one complete line (without its terminator). Returns false when
  // parsing must stop: the handler declined or a limit was exceeded.
  bool ProcessLine(std::string_view line, const SseEventHandler& on_event, bool* stopped);
  bool Fail(std::string message);

  std::size_t max_line_bytes_;
  std::size_t max_event_bytes_;
  std::string partial_;          // bytes of the current unfinished line
  bool skip_next_lf_ = false;    // the last line ended with '\r'
  bool at_stream_start_ = true;  // a UTF-8 BOM may still need stripping
  bool has_data_ = false;        // a data line arrived for the current event
  bool has_fields_ = false;      // any field line arrived for the current event
  SseEvent current_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace flowrun
