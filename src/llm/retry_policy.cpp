// Retry policy implementation. HTTP dates are parsed by curl_getdate, which
// knows the three formats RFC 9110 asks recipients to accept.
#include "llm/retry_policy.h"

#include <algorithm>
#include <string>
#include <thread>

namespace flowrun {
namespace {

constexpr auto kSleepSlice = std::chrono::milliseconds(20);
// Far beyond any sensible cap; keeps the arithmetic below from overflowing.
constexpr long kMaxRetryAfterSeconds = 24L * 60 * 60;

}  // namespace

bool IsTransientTransportFailure(CURLcode result) {
  return result == CURLE_COULDNT_CONNECT || result == CURLE_OPERATION_TIMEDOUT || result == CURLE_GOT_NOTHING ||
         result == CURLE_SEND_ERROR || result == CURLE_RECV_ERROR;
}

bool IsRetryableHttpStatus(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::optional<long> ParseRetryAfterMs(std::string_view value, std::time_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long seconds = 0;
    for (char c : value) {
      seconds = std::min(kMaxRetryAfterSeconds, seconds * 10 + (c - '0'));
    }
    return seconds * 1000;
  }
  const std::time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const long seconds = static_cast<long>(std::clamp<std::time_t>(when - now, 0, kMaxRetryAfterSeconds));
  return seconds * 1000;
}

std::optional<long> RetryAfterMs(CURL* easy) {
  curl_header* header = nullptr;
  if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &header) != CURLHE_OK) return std::nullopt;
  return ParseRetryAfterMs(header->value, std::time(nullptr));
}

long BackoffCeilingMs(int retry, long initial_ms, long max_ms) {
  initial_ms = std::max(0L, initial_ms);
  max_ms = std::max(0L, max_ms);
  long ceiling = std::min(initial_ms, max_ms);
  for (int i = 1; i < retry && ceiling < max_ms; ++i) {
    ceiling = ceiling > max_ms / 2 ? max_ms : ceiling * 2;
  }
  return ceiling;
}

long RetryDelayMs(int retry, long initial_ms, long max_ms, std::optional<long> retry_after_ms,
                  std::mt19937_64& random) {
  if (retry_after_ms) return std::clamp(*retry_after_ms, 0L, std::max(0L, max_ms));
  const long ceiling = BackoffCeilingMs(retry, initial_ms, max_ms);
  return std::uniform_int_distribution<long>(0, ceiling)(random);
}

bool SleepUnlessCancelled(std::chrono::milliseconds wait, const Cancellation& cancel) {
  const auto until = std::chrono::steady_clock::now() + wait;
  while (true) {
    if (cancel.IsCancelled()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kSleepSlice, until - now));
  }
}

}  // namespace flowrun
