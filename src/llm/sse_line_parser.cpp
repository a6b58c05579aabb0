// SseLineParser implementation: splits bytes into lines (\r\n, \n or \r),
// lines into fields, and fields into events, following the WHATWG
// "event stream interpretation" rules.
#include "llm/sse_line_parser.h"

#include <cstring>
#include <utility>

namespace flowrun {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// The first '\r' or '\n' at or after `pos`, or npos. find_first_of("\r\n")
// calls memchr on the two-character set once per byte; two vectorised
// memchr passes are many times faster on long reads full of short lines.
std::size_t FindLineEnd(std::string_view bytes, std::size_t pos) {
  const char* begin = bytes.data() + pos;
  const std::size_t length = bytes.size() - pos;
  const void* newline = std::memchr(begin, '\n', length);
  const std::size_t scan = newline != nullptr ? static_cast<const char*>(newline) - begin : length;
  const void* carriage_return = std::memchr(begin, '\r', scan);
  if (carriage_return != nullptr) return pos + (static_cast<const char*>(carriage_return) - begin);
  return newline != nullptr ? pos + scan : std::string_view::npos;
}

}  // namespace

SseLineParser::SseLineParser(std::size_t max_line_bytes, std::size_t max_event_bytes)
    : max_line_bytes_(max_line_bytes), max_event_bytes_(max_event_bytes) {}

SseFeedResult SseLineParser::Feed(std::string_view bytes, const SseEventHandler& on_event) {
  if (failed_) return SseFeedResult::kTooLarge;
  std::size_t pos = 0;
  // A "\r\n" split across two feeds is one terminator, not two.
  if (skip_next_lf_ && !bytes.empty()) {
    if (bytes[0] == '\n') pos = 1;
    skip_next_lf_ = false;
  }
  while (pos < bytes.size()) {
    const std::size_t end = FindLineEnd(bytes, pos);
    if (end == std::string_view::npos) {
      const std::string_view rest = bytes.substr(pos);
      if (partial_.size() + rest.size() > max_line_bytes_) {
        Fail("SSE line longer than " + std::to_string(max_line_bytes_) + " bytes");
        return SseFeedResult::kTooLarge;
      }
      partial_.append(rest);
      break;
    }
    std::string_view line = bytes.substr(pos, end - pos);
    if (partial_.size() + line.size() > max_line_bytes_) {
      Fail("SSE line longer than " + std::to_string(max_line_bytes_) + " bytes");
      return SseFeedResult::kTooLarge;
    }
    // Only lines that straddle feeds are copied; the rest are parsed in place.
    if (!partial_.empty()) {
      partial_.append(line);
      line = partial_;
    }
    pos = end + 1;
    if (bytes[end] == '\r') {
      if (pos == bytes.size()) {
        skip_next_lf_ = true;
      } else if (bytes[pos] == '\n') {
        ++pos;
      }
    }
    bool stopped = false;
    const bool go_on = ProcessLine(line, on_event, &stopped);
    partial_.clear();
    if (!go_on) return stopped ? SseFeedResult::kStopped : SseFeedResult::kTooLarge;
  }
  return SseFeedResult::kOk;
}

std::vector<SseEvent> SseLineParser::Feed(std::string_view bytes) {
  std::vector<SseEvent> events;
  Feed(bytes, [&events](const SseEvent& event) {
    events.push_back(event);
    return true;
  });
  return events;
}

SseTail SseLineParser::Finish(const SseEventHandler& on_event) {
  SseTail tail;
  tail.partial_line = !partial_.empty();
  tail.pending_event = has_fields_;
  if (on_event && has_data_ && !failed_) on_event(current_);
  *this = SseLineParser(max_line_bytes_, max_event_bytes_);
  return tail;
}

bool SseLineParser::ProcessLine(std::string_view line, const SseEventHandler& on_event,
                                bool* stopped) {
  if (at_stream_start_) {
    at_stream_start_ = false;
    if (line.substr(0, kUtf8Bom.size()) == kUtf8Bom) line.remove_prefix(kUtf8Bom.size());
  }
  if (line.empty()) {
    // Per spec an event without data lines is not dispatched at all.
    bool keep_going = true;
    if (has_data_ && on_event) keep_going = on_event(current_);
    current_.event.clear();
    current_.data.clear();
    has_data_ = false;
    has_fields_ = false;
    if (!keep_going) *stopped = true;
    return keep_going;
  }
  if (line.front() == ':') return true;  // comment, e.g. a keep-alive ping

  std::string_view field = line;
  std::string_view value;
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  has_fields_ = true;
  if (field == "data") {
    if (current_.data.size() + value.size() + 1 > max_event_bytes_) {
      return Fail("SSE event larger than " + std::to_string(max_event_bytes_) + " bytes");
    }
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id.assign(value);
  }
  // "retry" and unknown fields are ignored: a client library has no use for them.
  return true;
}

bool SseLineParser::Fail(std::string message) {
  failed_ = true;
  error_ = std::move(message);
  partial_.clear();
  partial_.shrink_to_fit();
  return false;
}

}  // namespace flowrun
