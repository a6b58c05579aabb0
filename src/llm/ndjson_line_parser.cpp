// NdjsonLineParser (ndjson_line_parser.h).
#include "llm/ndjson_line_parser.h"

namespace flowrun {

bool NdjsonLineParser::Dispatch(std::string_view line, const LineHandler& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return true;
  return on_line(line);
}

SseFeedResult NdjsonLineParser::Feed(std::string_view bytes, const LineHandler& on_line) {
  if (failed_) return SseFeedResult::kTooLarge;
  while (!bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (partial_.size() + piece.size() > max_line_bytes_) {
      failed_ = true;
      error_ = "NDJSON line longer than " + std::to_string(max_line_bytes_) + " bytes";
      partial_.clear();
      return SseFeedResult::kTooLarge;
    }
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      return SseFeedResult::kOk;
    }
    bytes.remove_prefix(newline + 1);
    bool go_on;
    if (partial_.empty()) {
      go_on = Dispatch(piece, on_line);
    } else {
      partial_.append(piece);
      const std::string line = std::move(partial_);
      partial_.clear();
      go_on = Dispatch(line, on_line);
    }
    if (!go_on) return SseFeedResult::kStopped;
  }
  return SseFeedResult::kOk;
}

void NdjsonLineParser::Finish(const LineHandler& on_line) {
  const std::string line = std::move(partial_);
  partial_.clear();
  if (!failed_ && on_line) Dispatch(line, on_line);
  failed_ = false;
  error_.clear();
}

}  // namespace flowrun
