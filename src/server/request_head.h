// Strict HTTP/1.1 request framing (RFC 9112), checked before any handler
// sees a byte: HeadScanner reads a request head incrementally as bytes
// arrive and refuses it at the first byte that breaks the rules or a limit
// (so a flood is cut while the client is still sending); BodyDecoder reads
// a Content-Length or chunked body. Anything ambiguous — both
// Content-Length and Transfer-Encoding, several or invalid lengths, a
// coding other than chunked, obs-fold, bare LF, control bytes, whitespace
// before a colon, a bad chunk size — is refused, never guessed at.
// Plain values; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowrun {

struct HeadLimits {
  size_t max_head_bytes = 16 * 1024;  // request line, fields and blank line, in all
  size_t max_header_fields = 100;
  size_t max_uri_bytes = 8 * 1024;
  size_t max_field_bytes = 8 * 1024;  // one field line
};

// Why a request is refused; the connection is closed after the answer.
struct Refusal {
  int status = 400;
  std::string message;
};

struct RequestHead {
  enum class Body { kNone, kLength, kChunked };

  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  std::vector<std::pair<std::string, std::string>> fields;  // names as sent, values without OWS
  Body body = Body::kNone;
  uint64_t content_length = 0;  // with kLength; UINT64_MAX when too large to represent
  bool keep_alive = true;
  bool expect_continue = false;

  // The first field named `name` (case-insensitive), or "".
  std::string Field(std::string_view name) const;
};

class HeadScanner {
 public:
  enum class Result { kNeedMore, kComplete, kRefused };

  explicit HeadScanner(HeadLimits limits = {}) : limits_(limits) {}

  // `buffer` holds every byte received since the head began (it only grows
  // between calls); scanning resumes where the last call stopped.
  Result Scan(std::string_view buffer);

  // After kComplete: the head, its length in `buffer` (blank line included).
  const RequestHead& head() const { return head_; }
  RequestHead& head() { return head_; }
  size_t head_bytes() const { return pos_; }
  // After kRefused.
  const Refusal& refusal() const { return refusal_; }
  // True once any byte of a request (not only leading blank lines) arrived.
  bool started() const { return started_; }
  // The request line's method and target, as far as they are known (logs).
  std::string_view method() const { return head_.method; }
  std::string_view target() const { return head_.target; }

 private:
  Result Refuse(int status, std::string message);
  Result LineEnded(std::string_view line);
  Result RequestLine(std::string_view line);
  Result FieldLine(std::string_view line);
  Result Finish();

  HeadLimits limits_;
  size_t pos_ = 0;         // next byte to look at
  size_t line_start_ = 0;  // where the current line began
  bool have_request_line_ = false;
  bool started_ = false;
  RequestHead head_;
  Refusal refusal_;
};

// Reads a request body framed by `head`, at most `max_body` bytes.
class BodyDecoder {
 public:
  enum class Result { kNeedMore, kComplete, kRefused };

  BodyDecoder(const RequestHead& head, size_t max_body);

  // Consumes bytes from the front of `input` (the count in *consumed) and
  // appends the body's bytes to *body.
  Result Feed(std::string_view input, size_t* consumed, std::string* body);
  const Refusal& refusal() const { return refusal_; }

 private:
  enum class State { kLength, kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailer, kDone };
  Result Refuse(int status, std::string message);
  Result FeedChunked(std::string_view input, size_t* consumed, std::string* body);

  size_t max_body_;
  State state_;
  uint64_t remaining_ = 0;  // bytes of the body (kLength) or the chunk (kData) still to come
  uint64_t received_ = 0;   // body bytes so far
  int size_digits_ = 0;
  size_t extension_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  size_t trailer_line_bytes_ = 0;
  bool trailer_cr_ = false;
  bool size_has_space_ = false;
  Refusal refusal_;
};

// The canonical head a handler reads: the request line and the fields, with
// the body's framing replaced by one Content-Length of `body_bytes`, and no
// Expect (already answered).
std::string CanonicalHead(const RequestHead& head, size_t body_bytes);

}  // namespace flowrun
