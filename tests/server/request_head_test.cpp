// The request-head scanner and body decoder: every framing rule of RFC 9112
// that flowrun enforces, with the exact status and message, whole and fed
// one byte at a time.
#include "server/request_head.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

struct Scanned {
  HeadScanner::Result result = HeadScanner::Result::kNeedMore;
  int status = 0;
  std::string message;
  RequestHead head;
  size_t head_bytes = 0;
};

// Scans `bytes` as they would arrive in pieces of `step` bytes.
Scanned Scan(const std::string& bytes, size_t step = 0, HeadLimits limits = {}) {
  HeadScanner scanner(limits);
  HeadScanner::Result result = HeadScanner::Result::kNeedMore;
  if (step == 0) step = bytes.size();
  for (size_t end = std::min(step, bytes.size());; end = std::min(end + step, bytes.size())) {
    result = scanner.Scan(std::string_view(bytes).substr(0, end));
    if (result != HeadScanner::Result::kNeedMore || end == bytes.size()) break;
  }
  Scanned scanned;
  scanned.result = result;
  if (result == HeadScanner::Result::kRefused) {
    scanned.status = scanner.refusal().status;
    scanned.message = scanner.refusal().message;
  }
  if (result == HeadScanner::Result::kComplete) {
    scanned.head = scanner.head();
    scanned.head_bytes = scanner.head_bytes();
  }
  return scanned;
}

void ExpectRefused(const std::string& bytes, int status, const std::string& message) {
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    Scanned scanned = Scan(bytes, step);
    ASSERT_EQ(scanned.result, HeadScanner::Result::kRefused) << "step " << step << ": " << bytes;
    EXPECT_EQ(scanned.status, status) << bytes;
    EXPECT_EQ(scanned.message, message) << bytes;
  }
}

TEST(RequestHead, ParsesAPlainRequestWholeAndByteByByte) {
  const std::string request =
      "POST /chat?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"a\":\"b\"}xyz";
  for (size_t step : {size_t{0}, size_t{1}, size_t{3}}) {
    Scanned scanned = Scan(request, step);
    ASSERT_EQ(scanned.result, HeadScanner::Result::kComplete);
    EXPECT_EQ(scanned.head.method, "POST");
    EXPECT_EQ(scanned.head.target, "/chat?x=1");
    EXPECT_EQ(scanned.head.version, "HTTP/1.1");
    EXPECT_EQ(scanned.head.Field("content-type"), "application/json");
    EXPECT_EQ(scanned.head.body, RequestHead::Body::kLength);
    EXPECT_EQ(scanned.head.content_length, 12u);
    EXPECT_TRUE(scanned.head.keep_alive);
    EXPECT_EQ(scanned.head_bytes, request.find("\r\n\r\n") + 4);
  }
}

TEST(RequestHead, KeepAliveFollowsVersionAndConnection) {
  EXPECT_FALSE(Scan("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(Scan("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  EXPECT_TRUE(Scan("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(Scan("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n").head.keep_alive);
}

TEST(RequestHead, BlankLinesBeforeARequestAreIgnored) {
  Scanned scanned = Scan("\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(scanned.result, HeadScanner::Result::kComplete);
  EXPECT_EQ(scanned.head.target, "/healthz");
}

TEST(RequestHead, AmbiguousBodyFramingIsRefused) {
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "request has both Content-Length and Transfer-Encoding");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\nContent-Length: 49\r\n\r\n", 400,
                "request has several Content-Length headers");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 16,49\r\n\r\n", 400, "invalid Content-Length");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400, "invalid Content-Length");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "invalid Content-Length");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
                "unsupported Transfer-Encoding; only chunked is accepted");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400,
                "unsupported Transfer-Encoding; only chunked is accepted");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "unsupported Transfer-Encoding; only chunked is accepted");
  ExpectRefused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 request");
}

TEST(RequestHead, HugeLengthsAreKeptAsTooLarge) {
  Scanned big = Scan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n");
  ASSERT_EQ(big.result, HeadScanner::Result::kComplete);
  EXPECT_EQ(big.head.content_length, UINT64_MAX);
  Scanned digits = Scan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12345678901234567890123\r\n\r\n");
  EXPECT_EQ(digits.head.content_length, UINT64_MAX);
}

TEST(RequestHead, MalformedLinesAreRefused) {
  ExpectRefused("GET / HTTP/1.1\nHost: a\r\n\r\n", 400,
                "malformed request head: a line ends in a bare LF (lines end in CRLF)");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\n\r\n", 400,
                "malformed request head: a line ends in a bare LF (lines end in CRLF)");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, "malformed request head: CR not followed by LF");
  ExpectRefused(std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29), 400,
                "malformed request head: control byte 0x00");
  ExpectRefused("GET /\x1b[31m HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request head: control byte 0x1b");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n", 400,
                "malformed request head: a header line starts with whitespace (obs-fold)");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400,
                "malformed header field: whitespace between the name and the colon");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n", 400, "malformed header field: no colon");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", 400, "malformed header field name");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400, "malformed header field name");
}

TEST(RequestHead, MalformedRequestLinesAreRefused) {
  ExpectRefused("GET /\r\nHost: a\r\n\r\n", 400, "malformed request line");
  ExpectRefused("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line");
  ExpectRefused("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line");
  ExpectRefused("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "malformed request line");
  ExpectRefused("GET / FTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line");
  ExpectRefused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP version HTTP/2.0 is not supported; use HTTP/1.1");
  ExpectRefused("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 request without a Host header");
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "request has several Host headers");
  ExpectRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n", 417,
                "unsupported expectation; only 100-continue is");
}

TEST(RequestHead, LimitsAreRefusedWhileTheClientIsStillSending) {
  // No blank line yet: the refusal must not wait for the end of the head.
  std::string flood = "GET / HTTP/1.1\r\nHost: a\r\n";
  while (flood.size() < 20000) flood += "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  HeadLimits many_fields;
  many_fields.max_header_fields = 1000;
  Scanned big = Scan(flood, 512, many_fields);
  EXPECT_EQ(big.status, 431);
  EXPECT_EQ(big.message, "request head is over the limit of 16384 bytes");
  EXPECT_EQ(Scan(flood, 512).message, "request has more than 100 header fields");
  EXPECT_EQ(Scan(flood, 512).status, 431);
  ExpectRefused("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + std::string(9000, 'a'), 431,
                "a header field is over the limit of 8192 bytes");
  ExpectRefused("GET /" + std::string(9000, 'a'), 414, "request target is over the limit of 8192 bytes");
  ExpectRefused("GET /" + std::string(8200, 'a') + " HTTP/1.1\r\n", 414, "request target is over the limit of 8192 bytes");
}

TEST(RequestHead, ExpectContinueOnlyWithABody) {
  EXPECT_TRUE(Scan("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n").head.expect_continue);
  EXPECT_FALSE(Scan("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").head.expect_continue);
}

struct Decoded {
  BodyDecoder::Result result = BodyDecoder::Result::kNeedMore;
  std::string body;
  size_t consumed = 0;
  int status = 0;
  std::string message;
};

Decoded Decode(const std::string& head_text, const std::string& bytes, size_t step = 0, size_t max_body = 1024) {
  Scanned scanned = Scan(head_text);
  EXPECT_EQ(scanned.result, HeadScanner::Result::kComplete) << head_text;
  BodyDecoder decoder(scanned.head, max_body);
  Decoded decoded;
  decoded.result = BodyDecoder::Result::kNeedMore;
  if (step == 0) step = std::max<size_t>(1, bytes.size());
  std::string pending;
  for (size_t at = 0; at < bytes.size() && decoded.result == BodyDecoder::Result::kNeedMore; at += step) {
    pending += bytes.substr(at, step);
    size_t consumed = 0;
    decoded.result = decoder.Feed(pending, &consumed, &decoded.body);
    decoded.consumed += consumed;
    pending.erase(0, consumed);
  }
  if (decoded.result == BodyDecoder::Result::kRefused) {
    decoded.status = decoder.refusal().status;
    decoded.message = decoder.refusal().message;
  }
  return decoded;
}

const char kChunkedHead[] = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST(RequestBody, ChunkedBodiesDecodeAtEverySplit) {
  const std::string body = "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET /next";
  for (size_t step = 1; step <= body.size(); ++step) {
    Decoded decoded = Decode(kChunkedHead, body, step);
    ASSERT_EQ(decoded.result, BodyDecoder::Result::kComplete) << "step " << step;
    EXPECT_EQ(decoded.body, "hello 0123456789");
    EXPECT_EQ(decoded.consumed, body.find("GET /next")) << "the next request is left alone";
  }
}

TEST(RequestBody, LengthBodiesStopAtTheirLength) {
  Decoded decoded = Decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", "helloGET /", 2);
  EXPECT_EQ(decoded.result, BodyDecoder::Result::kComplete);
  EXPECT_EQ(decoded.body, "hello");
  Decoded short_body = Decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", std::string(16, 'x'));
  EXPECT_EQ(short_body.result, BodyDecoder::Result::kNeedMore) << "a body shorter than its length never completes";
}

TEST(RequestBody, MalformedChunksAreRefused) {
  auto refused = [](const std::string& body, int status, const std::string& message) {
    for (size_t step : {size_t{0}, size_t{1}}) {
      Decoded decoded = Decode(kChunkedHead, body, step);
      ASSERT_EQ(decoded.result, BodyDecoder::Result::kRefused) << body;
      EXPECT_EQ(decoded.status, status) << body;
      EXPECT_EQ(decoded.message, message) << body;
    }
  };
  refused("zz\r\nhello\r\n0\r\n\r\n", 400, "malformed chunked body: invalid chunk size");
  refused("-5\r\nhello\r\n0\r\n\r\n", 400, "malformed chunked body: invalid chunk size");
  refused("\r\nhello\r\n0\r\n\r\n", 400, "malformed chunked body: invalid chunk size");
  refused("0x5\r\nhello\r\n0\r\n\r\n", 400, "malformed chunked body: invalid chunk size");
  refused("1000000000000000\r\n", 400, "malformed chunked body: invalid chunk size");
  refused("5\nhello\r\n0\r\n\r\n", 400, "malformed chunked body: invalid chunk size");
  refused("5\r\nhelloXY0\r\n\r\n", 400, "malformed chunked body: chunk data not followed by CRLF");
  refused("5\r\nhello\n0\r\n\r\n", 400, "malformed chunked body: chunk data not followed by CRLF");
  refused("5\r\nhello\r\n0\r\nX: y\n\r\n", 400, "malformed chunked body: a trailer line ends in a bare LF");
  refused("5;" + std::string(2000, 'e') + "\r\nhello\r\n0\r\n\r\n", 400, "malformed chunked body: invalid chunk extension");
  refused("400\r\n" + std::string(1024, 'x') + "\r\n1\r\nx\r\n0\r\n\r\n", 413,
          "request body is over the limit of 1024 bytes");
}

TEST(RequestBody, CanonicalHeadHasOneLengthAndNoExpect) {
  Scanned scanned = Scan(
      "POST /chat HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nX-Request-Id: r1\r\n\r\n");
  ASSERT_EQ(scanned.result, HeadScanner::Result::kComplete);
  EXPECT_EQ(CanonicalHead(scanned.head, 16),
            "POST /chat HTTP/1.1\r\nHost: a\r\nX-Request-Id: r1\r\nContent-Length: 16\r\n\r\n");
  Scanned get = Scan("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(CanonicalHead(get.head, 0), "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
}

}  // namespace
}  // namespace flowrun
