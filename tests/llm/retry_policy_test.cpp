// Tests for the retry policy's pure parts: retryable statuses, Retry-After
// parsing, the backoff ceiling and its jitter, and the cancellable wait.
#include "llm/retry_policy.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(RetryPolicyTest, RetryableStatuses) {
  for (long status : {429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(status)) << status;
  for (long status : {200, 400, 401, 403, 404, 408, 422, 501, 505}) {
    EXPECT_FALSE(IsRetryableHttpStatus(status)) << status;
  }
}

TEST(RetryPolicyTest, ParsesRetryAfterSeconds) {
  EXPECT_EQ(ParseRetryAfterMs("3", 0), 3000);
  EXPECT_EQ(ParseRetryAfterMs(" 0 ", 0), 0);
  EXPECT_EQ(ParseRetryAfterMs("120", 0), 120000);
  // Absurd values are clamped (to a day), never overflow.
  EXPECT_EQ(ParseRetryAfterMs("99999999999999999999999", 0), 24L * 60 * 60 * 1000);
  for (const char* bad : {"", " ", "-1", "1.5", "soon", "3 s"}) {
    EXPECT_FALSE(ParseRetryAfterMs(bad, 0).has_value()) << bad;
  }
}

TEST(RetryPolicyTest, ParsesRetryAfterHttpDates) {
  const std::time_t when = curl_getdate("Wed, 21 Oct 2015 07:28:00 GMT", nullptr);
  ASSERT_NE(when, -1);
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", when - 5), 5000);
  EXPECT_EQ(ParseRetryAfterMs("Wednesday, 21-Oct-15 07:28:00 GMT", when - 2), 2000);  // RFC 850
  EXPECT_EQ(ParseRetryAfterMs("Wed Oct 21 07:28:00 2015", when - 1), 1000);          // asctime
  EXPECT_EQ(ParseRetryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", when + 60), 0);         // already past
}

TEST(RetryPolicyTest, BackoffCeilingDoublesUpToTheCap) {
  const std::vector<long> expected = {500, 1000, 2000, 4000, 8000, 8000, 8000};
  for (int retry = 1; retry <= static_cast<int>(expected.size()); ++retry) {
    EXPECT_EQ(BackoffCeilingMs(retry, 500, 8000), expected[retry - 1]) << retry;
  }
  EXPECT_EQ(BackoffCeilingMs(1000, 500, 8000), 8000);  // no overflow
  EXPECT_EQ(BackoffCeilingMs(40, 1, 9'000'000'000'000'000'000L), 1L << 39);
  EXPECT_EQ(BackoffCeilingMs(1, 5000, 100), 100);  // initial above the cap
  EXPECT_EQ(BackoffCeilingMs(3, 0, 100), 0);
}

TEST(RetryPolicyTest, DelayIsFullJitterBelowTheCeiling) {
  std::mt19937_64 random(42);
  long low = 1'000'000;
  long high = -1;
  for (int i = 0; i < 2000; ++i) {
    const long delay = RetryDelayMs(3, 500, 8000, std::nullopt, random);
    low = std::min(low, delay);
    high = std::max(high, delay);
  }
  EXPECT_GE(low, 0);
  EXPECT_LE(high, 2000);
  // Spread over the whole range, not bunched at the ceiling.
  EXPECT_LT(low, 200);
  EXPECT_GT(high, 1800);
}

TEST(RetryPolicyTest, RetryAfterReplacesBackoffUpToTheCap) {
  std::mt19937_64 random(1);
  EXPECT_EQ(RetryDelayMs(1, 500, 8000, 3000, random), 3000);
  EXPECT_EQ(RetryDelayMs(1, 500, 8000, 3'600'000, random), 8000);
  EXPECT_EQ(RetryDelayMs(1, 500, 8000, 0, random), 0);
}

TEST(RetryPolicyTest, SleepReturnsTrueWhenNotCancelled) {
  Cancellation cancel;
  const auto start = Clock::now();
  EXPECT_TRUE(SleepUnlessCancelled(milliseconds(120), cancel));
  EXPECT_GE(Clock::now() - start, milliseconds(120));
}

TEST(RetryPolicyTest, SleepEndsEarlyWhenCancelledFromAnotherThread) {
  Cancellation cancel;
  const auto start = Clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel.Cancel("client disconnected");
  });
  EXPECT_FALSE(SleepUnlessCancelled(std::chrono::seconds(60), cancel));
  canceller.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(cancel.Reason(), "client disconnected");
}

}  // namespace
}  // namespace flowrun
