// Retries of the OpenAI client against FakeOpenAiUpstream: which faults are
// retried, how often, how long it waits (Retry-After, capped backoff), that
// the wait is cancellable, and that nothing is retried once text was
// delivered. Timings are asserted as lower bounds or generous upper bounds.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "llm/openai_client.h"
#include "llm/openai_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::HttpError;
using testing::Outcome;
using testing::RunStream;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::string kOverloaded = R"({"error":{"message":"The server is overloaded"}})";

class OpenAiRetryTest : public ::testing::Test {
 protected:
  std::unique_ptr<LlmClient> Client(int max_attempts = 3) {
    OpenAiConfig config = testing::FastRetryConfig(upstream_);
    config.max_attempts = max_attempts;
    return MakeOpenAiClient(config);
  }

  FakeOpenAiUpstream upstream_;
};

TEST_F(OpenAiRetryTest, ServerErrorsBeforeTheFirstTokenAreRetried) {
  for (int status : {500, 502, 503, 504, 429}) {
    upstream_.SetScripts({HttpError(status, kOverloaded), HttpError(503), testing::HelloStream()});
    auto client = Client();
    const int requests_before = upstream_.request_count();
    const Outcome outcome = RunStream(*client);
    EXPECT_TRUE(outcome.status.ok()) << status << ": " << outcome.status.message();
    EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel", "lo"})) << status;
    EXPECT_EQ(upstream_.request_count() - requests_before, 3) << status;
    EXPECT_EQ(outcome.stats.attempts, 3);
    EXPECT_EQ(outcome.stats.retries, 2);
    EXPECT_EQ(outcome.stats.fault, StreamFault::kNone);
    EXPECT_EQ(outcome.stats.http_status, 200);
  }
}

TEST_F(OpenAiRetryTest, GivesUpAfterMaxAttemptsAndLogsEachRetryWithoutTheKey) {
  upstream_.SetScript(HttpError(503, R"({"error":{"message":"overloaded, key )" + std::string(testing::kTestKey) +
                                         R"("}})"));
  auto client = Client(3);
  ::testing::internal::CaptureStderr();
  const Outcome outcome = RunStream(*client);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(outcome.status.message(),
            "upstream returned HTTP 503: overloaded, key [redacted] (gave up after 3 attempts)");
  EXPECT_EQ(upstream_.request_count(), 3);
  EXPECT_EQ(outcome.stats.attempts, 3);
  EXPECT_EQ(outcome.stats.retries, 2);
  EXPECT_EQ(outcome.stats.fault, StreamFault::kHttpStatus);
  EXPECT_EQ(outcome.stats.http_status, 503);
  EXPECT_NE(log.find("upstream returned HTTP 503: overloaded, key [redacted]; retrying in "), std::string::npos)
      << log;
  EXPECT_NE(log.find(" ms (attempt 2 of 3)"), std::string::npos) << log;
  EXPECT_NE(log.find(" ms (attempt 3 of 3)"), std::string::npos) << log;
  EXPECT_EQ(log.find("attempt 4"), std::string::npos) << log;
  EXPECT_EQ(log.find(testing::kTestKey), std::string::npos) << log;
}

TEST_F(OpenAiRetryTest, OneAttemptMeansNoRetry) {
  upstream_.SetScripts({HttpError(503), testing::HelloStream()});
  auto client = Client(1);
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream returned HTTP 503");
  EXPECT_EQ(upstream_.request_count(), 1);
  EXPECT_EQ(outcome.stats.retries, 0);
}

TEST_F(OpenAiRetryTest, AuthAndClientErrorsAreNotRetried) {
  for (int status : {400, 401, 403, 404}) {
    upstream_.SetScripts({HttpError(status, R"({"error":{"message":"Incorrect API key provided"}})"),
                          testing::HelloStream()});
    auto client = Client();
    const Outcome outcome = RunStream(*client);
    EXPECT_EQ(outcome.status.message(),
              "upstream returned HTTP " + std::to_string(status) + ": Incorrect API key provided");
    EXPECT_EQ(outcome.stats.attempts, 1) << status;
    EXPECT_EQ(outcome.stats.fault, StreamFault::kHttpStatus);
    EXPECT_EQ(outcome.stats.http_status, status);
  }
  EXPECT_EQ(upstream_.request_count(), 4);
}

TEST_F(OpenAiRetryTest, RefusedConnectionIsRetriedThenReported) {
  std::string dead_url;
  {
    FakeOpenAiUpstream gone;
    dead_url = gone.base_url();
  }
  OpenAiConfig config = testing::FastRetryConfig(upstream_);
  config.base_url = dead_url;
  auto client = MakeOpenAiClient(config);
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message().rfind("cannot reach upstream " + dead_url + ": ", 0), 0u)
      << outcome.status.message();
  EXPECT_NE(outcome.status.message().find("(gave up after 3 attempts)"), std::string::npos);
  EXPECT_EQ(outcome.stats.attempts, 3);
  EXPECT_EQ(outcome.stats.fault, StreamFault::kUnreachable);
  EXPECT_EQ(outcome.stats.http_status, 0);
}

TEST_F(OpenAiRetryTest, HonoursRetryAfterSeconds) {
  upstream_.SetScripts({HttpError(429, R"({"error":{"message":"Rate limit reached"}})", {{"Retry-After", "1"}}),
                        testing::HelloStream()});
  OpenAiConfig config = testing::FastRetryConfig(upstream_);
  config.retry_max_ms = 5000;  // the cap must not cut this Retry-After short
  auto client = MakeOpenAiClient(config);
  const Outcome outcome = RunStream(*client);
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  const auto times = upstream_.request_times();
  ASSERT_EQ(times.size(), 2u);
  // Backoff alone would wait at most 10 ms here.
  EXPECT_GE(times[1] - times[0], milliseconds(1000));
}

TEST_F(OpenAiRetryTest, CapsRetryAfterAtTheMaximumBackoff) {
  for (const char* retry_after : {"3600", "Fri, 01 Jan 2100 00:00:00 GMT"}) {
    upstream_.SetScripts({HttpError(429, "", {{"Retry-After", retry_after}}), testing::HelloStream()});
    auto client = Client();  // retry_max_ms 40
    const auto start = Clock::now();
    const Outcome outcome = RunStream(*client);
    EXPECT_TRUE(outcome.status.ok()) << retry_after << ": " << outcome.status.message();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10)) << retry_after;
  }
}

TEST_F(OpenAiRetryTest, BackoffWaitIsCancellable) {
  // Retry-After makes the wait certain to be long (jitter might make it 0).
  upstream_.SetScript(HttpError(503, "", {{"Retry-After", "60"}}));
  OpenAiConfig config = testing::FastRetryConfig(upstream_);
  config.retry_max_ms = 60000;
  auto client = MakeOpenAiClient(config);
  Cancellation cancel;
  // Cancelled from another thread 300 ms after the 503 was asked for, by
  // when the client is waiting out the Retry-After.
  std::thread canceller([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (upstream_.request_count() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    std::this_thread::sleep_for(milliseconds(300));
    cancel.Cancel();
  });
  const auto start = Clock::now();
  const Outcome outcome = RunStream(*client, cancel);
  canceller.join();
  EXPECT_EQ(outcome.status.message(), "cancelled");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kCancelled);
  EXPECT_EQ(upstream_.request_count(), 1);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(OpenAiRetryTest, NothingIsRetriedOnceTextWasDelivered) {
  FakeUpstreamScript broken;
  broken.pieces = {testing::OpenAiDeltaEvent("Hel")};
  broken.end = FakeUpstreamScript::End::kAbort;
  FakeUpstreamScript error_event;
  error_event.pieces = {testing::OpenAiDeltaEvent("Hel"), R"(data: {"error":{"message":"overloaded"}})" "\n\n"};
  for (const auto& first : {broken, error_event}) {
    upstream_.SetScripts({first, testing::HelloStream()});
    auto client = Client();
    const int requests_before = upstream_.request_count();
    const Outcome outcome = RunStream(*client);
    EXPECT_FALSE(outcome.status.ok());
    EXPECT_EQ(outcome.deltas, std::vector<std::string>{"Hel"});
    EXPECT_EQ(upstream_.request_count() - requests_before, 1) << outcome.status.message();
    EXPECT_EQ(outcome.stats.retries, 0);
  }
}

TEST_F(OpenAiRetryTest, BrokenStreamsAfterA200AreNotRetriedEvenWithoutText) {
  // The upstream accepted the request and may have started generating: a
  // defined error beats a silent second, billed, attempt.
  FakeUpstreamScript closed;
  closed.end = FakeUpstreamScript::End::kAbort;
  FakeUpstreamScript not_json;
  not_json.pieces = {"data: <html>oops</html>\n\n"};
  for (const auto& first : {closed, not_json}) {
    upstream_.SetScripts({first, testing::HelloStream()});
    auto client = Client();
    const int requests_before = upstream_.request_count();
    const Outcome outcome = RunStream(*client);
    EXPECT_FALSE(outcome.status.ok());
    EXPECT_EQ(upstream_.request_count() - requests_before, 1) << outcome.status.message();
  }
}

}  // namespace
}  // namespace flowrun
