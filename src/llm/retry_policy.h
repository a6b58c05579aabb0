// Retry policy for upstream requests: which faults are worth another
// attempt, how long to wait (capped exponential backoff with full jitter, or
// the server's Retry-After), and a wait that a cancellation cuts short.
// Pure functions apart from SleepUnlessCancelled; thread-safe. Internal to
// src/llm (it exposes curl types; the layering check keeps such headers out
// of other modules).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <random>
#include <string_view>

#include "core/cancellation.h"

namespace flowrun {

// Failures before any HTTP response that a second try may well not meet
// (refused, connect timeout, closed without an answer). Name resolution,
// TLS and URL errors are configuration problems: not these.
bool IsTransientTransportFailure(CURLcode result);

// 429 and the 5xx statuses a gateway or an overloaded server answers with.
bool IsRetryableHttpStatus(long status);

// A Retry-After value in milliseconds from `now`: delta-seconds ("120") or an
// HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"; a past date gives 0).
// nullopt when the value is neither.
std::optional<long> ParseRetryAfterMs(std::string_view value, std::time_t now);

// ParseRetryAfterMs of the Retry-After header of `easy`'s last response.
std::optional<long> RetryAfterMs(CURL* easy);

// The backoff ceiling before retry `retry` (1 for the first retry):
// min(max_ms, initial_ms * 2^(retry-1)), without overflowing.
long BackoffCeilingMs(int retry, long initial_ms, long max_ms);

// How long to wait before retry `retry`: the server's Retry-After when given
// (capped at max_ms), else uniform in [0, BackoffCeilingMs] ("full jitter",
// so clients that failed together do not come back together).
long RetryDelayMs(int retry, long initial_ms, long max_ms, std::optional<long> retry_after_ms,
                  std::mt19937_64& random);

// Sleeps for `wait`, checking `cancel` at least every 50 ms. False when cancelled.
// Only for attempts driven alone on the caller's thread; on a loop the
// backoff is a timer (core/loop_awaitables.h Sleep).
bool SleepUnlessCancelled(std::chrono::milliseconds wait, const Cancellation& cancel);

}  // namespace flowrun
