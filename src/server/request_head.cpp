// Request-head scanning, body decoding and the canonical head (RFC 9112).
#include "server/request_head.h"

#include <algorithm>
#include <cstdio>

namespace flowrun {
namespace {

constexpr size_t kMaxChunkExtensionBytes = 1024;
constexpr size_t kMaxTrailerBytes = 8 * 1024;

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return IsTokenChar(c); });
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A control byte that may not appear in a head (HTAB may).
bool IsForbiddenControl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

std::string ControlByteText(unsigned char c) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02x", c);
  return text;
}

// Calls `fn` for each comma-separated element of a list field, trimmed.
template <typename Fn>
void ForEachListElement(std::string_view value, Fn fn) {
  while (true) {
    const size_t comma = value.find(',');
    fn(TrimOws(value.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string RequestHead::Field(std::string_view name) const {
  for (const auto& [field, value] : fields) {
    if (EqualsIgnoreCase(field, name)) return value;
  }
  return "";
}

HeadScanner::Result HeadScanner::Refuse(int status, std::string message) {
  refusal_ = Refusal{status, std::move(message)};
  return Result::kRefused;
}

HeadScanner::Result HeadScanner::Scan(std::string_view buffer) {
  while (pos_ < buffer.size()) {
    const auto c = static_cast<unsigned char>(buffer[pos_]);
    if (c != '\r' && c != '\n') started_ = true;
    if (pos_ + 1 > limits_.max_head_bytes) {
      return Refuse(431, "request head is over the limit of " + std::to_string(limits_.max_head_bytes) + " bytes");
    }
    if (c == '\n') {
      if (pos_ == line_start_ || buffer[pos_ - 1] != '\r') {
        return Refuse(400, "malformed request head: a line ends in a bare LF (lines end in CRLF)");
      }
      const std::string_view line = buffer.substr(line_start_, pos_ - 1 - line_start_);
      ++pos_;
      line_start_ = pos_;
      Result result = LineEnded(line);
      if (result != Result::kNeedMore) return result;
      continue;
    }
    if (pos_ > line_start_ && buffer[pos_ - 1] == '\r') {
      return Refuse(400, "malformed request head: CR not followed by LF");
    }
    if (c != '\r' && IsForbiddenControl(c)) {
      return Refuse(400, "malformed request head: control byte " + ControlByteText(c));
    }
    const size_t line_bytes = pos_ + 1 - line_start_;
    if (!have_request_line_) {
      // The target is the line less a method and " HTTP/1.1": refuse a long
      // one while it is still arriving.
      if (line_bytes > limits_.max_uri_bytes + 64) {
        return Refuse(414, "request target is over the limit of " + std::to_string(limits_.max_uri_bytes) + " bytes");
      }
    } else if (line_bytes > limits_.max_field_bytes) {
      return Refuse(431, "a header field is over the limit of " + std::to_string(limits_.max_field_bytes) + " bytes");
    }
    ++pos_;
  }
  return Result::kNeedMore;
}

HeadScanner::Result HeadScanner::LineEnded(std::string_view line) {
  if (!have_request_line_) {
    if (line.empty()) return Result::kNeedMore;  // blank lines before a request are ignored (RFC 9112 2.2)
    have_request_line_ = true;
    return RequestLine(line);
  }
  if (line.empty()) return Finish();
  return FieldLine(line);
}

HeadScanner::Result HeadScanner::RequestLine(std::string_view line) {
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) return Refuse(400, "malformed request line");
  head_.method = std::string(line.substr(0, first));
  head_.target = std::string(line.substr(first + 1, last - first - 1));
  head_.version = std::string(line.substr(last + 1));
  if (!IsToken(head_.method) || head_.target.empty() || head_.target.find(' ') != std::string::npos) {
    return Refuse(400, "malformed request line");
  }
  if (head_.target.size() > limits_.max_uri_bytes) {
    return Refuse(414, "request target is over the limit of " + std::to_string(limits_.max_uri_bytes) + " bytes");
  }
  const std::string_view version = head_.version;
  if (version.size() != 8 || !version.starts_with("HTTP/") || !std::isdigit(static_cast<unsigned char>(version[5])) ||
      version[6] != '.' || !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return Refuse(400, "malformed request line");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return Refuse(505, "HTTP version " + head_.version + " is not supported; use HTTP/1.1");
  }
  return Result::kNeedMore;
}

HeadScanner::Result HeadScanner::FieldLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return Refuse(400, "malformed request head: a header line starts with whitespace (obs-fold)");
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Refuse(400, "malformed header field: no colon");
  const std::string_view name = line.substr(0, colon);
  if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
    return Refuse(400, "malformed header field: whitespace between the name and the colon");
  }
  if (!IsToken(name)) return Refuse(400, "malformed header field name");
  if (head_.fields.size() >= limits_.max_header_fields) {
    return Refuse(431, "request has more than " + std::to_string(limits_.max_header_fields) + " header fields");
  }
  head_.fields.emplace_back(std::string(name), std::string(TrimOws(line.substr(colon + 1))));
  return Result::kNeedMore;
}

HeadScanner::Result HeadScanner::Finish() {
  const bool http11 = head_.version == "HTTP/1.1";
  int lengths = 0, codings = 0, hosts = 0;
  std::string length_text, coding_text;
  bool close = false, keep_alive_token = false;
  for (const auto& [name, value] : head_.fields) {
    if (EqualsIgnoreCase(name, "content-length")) {
      ++lengths;
      length_text = value;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      ++codings;
      coding_text = value;
    } else if (EqualsIgnoreCase(name, "host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "connection")) {
      ForEachListElement(value, [&](std::string_view option) {
        close = close || EqualsIgnoreCase(option, "close");
        keep_alive_token = keep_alive_token || EqualsIgnoreCase(option, "keep-alive");
      });
    } else if (EqualsIgnoreCase(name, "expect")) {
      if (!EqualsIgnoreCase(value, "100-continue")) return Refuse(417, "unsupported expectation; only 100-continue is");
      head_.expect_continue = true;
    }
  }
  if (http11 && hosts == 0) return Refuse(400, "HTTP/1.1 request without a Host header");
  if (hosts > 1) return Refuse(400, "request has several Host headers");
  if (lengths > 0 && codings > 0) return Refuse(400, "request has both Content-Length and Transfer-Encoding");
  if (lengths > 1) return Refuse(400, "request has several Content-Length headers");
  if (codings > 1) return Refuse(400, "unsupported Transfer-Encoding; only chunked is accepted");
  if (codings == 1) {
    if (!http11) return Refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (!EqualsIgnoreCase(coding_text, "chunked")) {
      return Refuse(400, "unsupported Transfer-Encoding; only chunked is accepted");
    }
    head_.body = RequestHead::Body::kChunked;
  }
  if (lengths == 1) {
    if (length_text.empty() || length_text.find_first_not_of("0123456789") != std::string::npos) {
      return Refuse(400, "invalid Content-Length");
    }
    uint64_t length = 0;
    for (char digit : length_text) {
      const uint64_t value = static_cast<uint64_t>(digit - '0');
      if (length > (UINT64_MAX - value) / 10) {
        length = UINT64_MAX;
        break;
      }
      length = length * 10 + value;
    }
    head_.content_length = length;
    head_.body = length == 0 ? RequestHead::Body::kNone : RequestHead::Body::kLength;
  }
  head_.keep_alive = http11 ? !close : keep_alive_token && !close;
  if (head_.body == RequestHead::Body::kNone) head_.expect_continue = false;
  return Result::kComplete;
}

BodyDecoder::BodyDecoder(const RequestHead& head, size_t max_body)
    : max_body_(max_body),
      state_(head.body == RequestHead::Body::kChunked ? State::kSize
             : head.body == RequestHead::Body::kLength ? State::kLength
                                                       : State::kDone),
      remaining_(head.content_length) {}

BodyDecoder::Result BodyDecoder::Refuse(int status, std::string message) {
  refusal_ = Refusal{status, std::move(message)};
  return Result::kRefused;
}

BodyDecoder::Result BodyDecoder::Feed(std::string_view input, size_t* consumed, std::string* body) {
  *consumed = 0;
  if (state_ == State::kDone) return Result::kComplete;
  if (state_ != State::kLength) return FeedChunked(input, consumed, body);
  const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
  body->append(input.data(), take);
  *consumed = take;
  remaining_ -= take;
  if (remaining_ > 0) return Result::kNeedMore;
  state_ = State::kDone;
  return Result::kComplete;
}

BodyDecoder::Result BodyDecoder::FeedChunked(std::string_view input, size_t* consumed, std::string* body) {
  const std::string too_large = "request body is over the limit of " + std::to_string(max_body_) + " bytes";
  size_t i = 0;
  auto done = [&](Result result) {
    *consumed = i;
    return result;
  };
  while (i < input.size()) {
    const auto c = static_cast<unsigned char>(input[i]);
    switch (state_) {
      case State::kSize: {
        const bool hex = std::isxdigit(c) != 0;
        if (hex && !size_has_space_) {
          if (++size_digits_ > 15) return done(Refuse(400, "malformed chunked body: invalid chunk size"));
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(std::isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
          ++i;
        } else if ((c == ' ' || c == '\t') && size_digits_ > 0) {
          size_has_space_ = true;  // BWS before a chunk extension
          ++i;
        } else if (c == ';' && size_digits_ > 0) {
          state_ = State::kExtension;
          ++i;
        } else if (c == '\r' && size_digits_ > 0 && !size_has_space_) {
          state_ = State::kSizeLf;
          ++i;
        } else {
          return done(Refuse(400, "malformed chunked body: invalid chunk size"));
        }
        break;
      }
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (IsForbiddenControl(c) || c == '\n' || ++extension_bytes_ > kMaxChunkExtensionBytes) {
          return done(Refuse(400, "malformed chunked body: invalid chunk extension"));
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return done(Refuse(400, "malformed chunked body: chunk size line not ended by CRLF"));
        ++i;
        if (remaining_ == 0) {
          state_ = State::kTrailer;
          break;
        }
        if (received_ + remaining_ > max_body_) return done(Refuse(413, too_large));
        state_ = State::kData;
        break;
      case State::kData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size() - i));
        body->append(input.data() + i, take);
        i += take;
        remaining_ -= take;
        received_ += take;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return done(Refuse(400, "malformed chunked body: chunk data not followed by CRLF"));
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return done(Refuse(400, "malformed chunked body: chunk data not followed by CRLF"));
        state_ = State::kSize;
        size_digits_ = 0;
        size_has_space_ = false;
        extension_bytes_ = 0;
        ++i;
        break;
      case State::kTrailer:
        // Trailer fields are read and dropped; only their framing matters.
        if (++trailer_bytes_ > kMaxTrailerBytes) return done(Refuse(431, "chunked body trailer is over 8192 bytes"));
        if (c == '\n') {
          if (!trailer_cr_) return done(Refuse(400, "malformed chunked body: a trailer line ends in a bare LF"));
          const bool blank = trailer_line_bytes_ == 0;
          trailer_line_bytes_ = 0;
          trailer_cr_ = false;
          ++i;
          if (blank) {
            state_ = State::kDone;
            return done(Result::kComplete);
          }
          break;
        }
        if (trailer_cr_) return done(Refuse(400, "malformed chunked body: CR not followed by LF"));
        if (c == '\r') {
          trailer_cr_ = true;
        } else if (IsForbiddenControl(c)) {
          return done(Refuse(400, "malformed chunked body: control byte in trailer"));
        } else {
          ++trailer_line_bytes_;
        }
        ++i;
        break;
      case State::kLength:
      case State::kDone:
        return done(Result::kComplete);
    }
  }
  return done(state_ == State::kDone ? Result::kComplete : Result::kNeedMore);
}

std::string CanonicalHead(const RequestHead& head, size_t body_bytes) {
  std::string out;
  out.reserve(256);
  out += head.method;
  out += ' ';
  out += head.target;
  out += ' ';
  out += head.version;
  out += "\r\n";
  for (const auto& [name, value] : head.fields) {
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
        EqualsIgnoreCase(name, "expect")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (body_bytes > 0 || head.body != RequestHead::Body::kNone) {
    out += "Content-Length: " + std::to_string(body_bytes) + "\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace flowrun
