// libFuzzer target: the front end's request-head scanner and body decoder
// on arbitrary bytes, fed whole and in two pieces. Properties: the two
// feedings agree; a complete head is no longer than the input; its
// canonical form (what httplib reads) scans again to the same request with
// one unambiguous Content-Length; a decoded body never exceeds its limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/request_head.h"

namespace {

constexpr size_t kMaxBody = 4096;

struct Outcome {
  flowrun::HeadScanner::Result result;
  size_t head_bytes = 0;
  int status = 0;
  flowrun::RequestHead head;
};

Outcome ScanInTwo(std::string_view bytes, size_t split) {
  flowrun::HeadScanner scanner;
  auto result = scanner.Scan(bytes.substr(0, split));
  if (result == flowrun::HeadScanner::Result::kNeedMore) result = scanner.Scan(bytes);
  Outcome outcome{result};
  if (result == flowrun::HeadScanner::Result::kComplete) {
    outcome.head_bytes = scanner.head_bytes();
    outcome.head = scanner.head();
  }
  if (result == flowrun::HeadScanner::Result::kRefused) outcome.status = scanner.refusal().status;
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Outcome whole = ScanInTwo(bytes, size);
  const Outcome split = ScanInTwo(bytes, size / 2);
  FUZZ_CHECK(whole.result == split.result);
  FUZZ_CHECK(whole.status == split.status);
  if (whole.result == flowrun::HeadScanner::Result::kRefused) {
    FUZZ_CHECK(whole.status >= 400 && whole.status < 600);
    return 0;
  }
  if (whole.result != flowrun::HeadScanner::Result::kComplete) return 0;
  FUZZ_CHECK(whole.head_bytes <= size && whole.head_bytes == split.head_bytes);

  // The body, as the front end would read it.
  std::string body;
  size_t consumed = 0;
  auto decoded = flowrun::BodyDecoder::Result::kComplete;
  if (whole.head.body != flowrun::RequestHead::Body::kNone) {
    flowrun::BodyDecoder decoder(whole.head, kMaxBody);
    decoded = decoder.Feed(bytes.substr(whole.head_bytes), &consumed, &body);
    FUZZ_CHECK(consumed <= size - whole.head_bytes);
  }
  FUZZ_CHECK(body.size() <= std::max<uint64_t>(kMaxBody, whole.head.content_length));
  if (decoded != flowrun::BodyDecoder::Result::kComplete) return 0;

  // What httplib reads: the same request, framed by one Content-Length.
  const std::string canonical = flowrun::CanonicalHead(whole.head, body.size());
  flowrun::HeadScanner again;
  FUZZ_CHECK(again.Scan(canonical) == flowrun::HeadScanner::Result::kComplete);
  FUZZ_CHECK(again.head_bytes() == canonical.size());
  FUZZ_CHECK(again.head().method == whole.head.method && again.head().target == whole.head.target);
  FUZZ_CHECK(again.head().keep_alive == whole.head.keep_alive);
  FUZZ_CHECK(!again.head().expect_continue);
  FUZZ_CHECK(again.head().body ==
             (body.empty() ? flowrun::RequestHead::Body::kNone : flowrun::RequestHead::Body::kLength));
  FUZZ_CHECK(again.head().content_length == body.size());
  return 0;
}
