// Hostile and broken upstreams against the OpenAI client: silence after the
// headers, keep-alive comments without tokens, enormous lines and bodies,
// and a client that goes away while the upstream trickles. Each fault must
// end in a defined error, promptly, with bounded memory.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "llm/openai_client.h"
#include "llm/openai_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::OpenAiDeltaEvent;
using testing::Outcome;
using testing::RunStream;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Peak resident set of this process so far, in KiB (Linux).
long PeakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Waits (generously) for the fake to notice that the client hung up.
std::optional<Clock::time_point> WaitForClientGone(const FakeOpenAiUpstream& upstream) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!upstream.client_gone_at() && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  return upstream.client_gone_at();
}

class OpenAiFaultsTest : public ::testing::Test {
 protected:
  std::unique_ptr<LlmClient> Client(long first_token_timeout_ms, long idle_timeout_ms) {
    OpenAiConfig config = testing::FastRetryConfig(upstream_);
    config.first_token_timeout_ms = first_token_timeout_ms;
    config.idle_timeout_ms = idle_timeout_ms;
    return MakeOpenAiClient(config);
  }

  FakeOpenAiUpstream upstream_;
};

TEST_F(OpenAiFaultsTest, HeadersThenSilenceIsAnIdleTimeout) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kHang);
  auto client = Client(/*first_token_timeout_ms=*/0, /*idle_timeout_ms=*/150);
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream sent nothing for 150 ms");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kTimeout);
  EXPECT_EQ(upstream_.request_count(), 1);  // a timeout is not retried
}

TEST_F(OpenAiFaultsTest, SilenceMidAnswerIsAnIdleTimeout) {
  upstream_.SetStream({OpenAiDeltaEvent("a")}, FakeUpstreamScript::End::kHang);
  auto client = Client(0, 150);
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream sent nothing for 150 ms");
  EXPECT_EQ(outcome.deltas, std::vector<std::string>{"a"});
}

TEST_F(OpenAiFaultsTest, KeepAliveCommentsKeepTheStreamAliveButAreNotTokens) {
  // Comments every 10 ms: the 100 ms idle timeout never fires, the
  // first-token timeout still does, and no comment reaches the consumer.
  upstream_.SetStream({": connected\n\n"}, FakeUpstreamScript::End::kTrickle);
  auto client = Client(/*first_token_timeout_ms=*/400, /*idle_timeout_ms=*/100);
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "no first token from upstream within 400 ms");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kTimeout);
  EXPECT_TRUE(outcome.deltas.empty());
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(OpenAiFaultsTest, CommentsBetweenTokensAreIgnored) {
  upstream_.SetStream({": ping\n\n", OpenAiDeltaEvent("a"), ":\n\n", OpenAiDeltaEvent("b"), ": ping\n\n",
                       testing::kOpenAiDoneEvent});
  auto client = Client(1000, 1000);
  const Outcome outcome = RunStream(*client);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(outcome.stats.attempts, 1);
  EXPECT_EQ(outcome.stats.retries, 0);
}

TEST_F(OpenAiFaultsTest, NoTokenAtAllIsAFirstTokenTimeout) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kHang);
  auto client = Client(150, 0);
  EXPECT_EQ(RunStream(*client).status.message(), "no first token from upstream within 150 ms");
}

TEST_F(OpenAiFaultsTest, ClientThatGoesAwayClosesTheUpstreamTransfer) {
  upstream_.SetStream({OpenAiDeltaEvent("a"), OpenAiDeltaEvent("b")}, FakeUpstreamScript::End::kTrickle);
  auto client = Client(0, 0);
  const Outcome outcome = RunStream(*client, Cancellation(), /*stop_after=*/1);
  const auto returned_at = Clock::now();
  EXPECT_EQ(outcome.status.message(), "cancelled");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kCancelled);
  const auto gone_at = WaitForClientGone(upstream_);
  ASSERT_TRUE(gone_at.has_value());
  // The fake writes every 10 ms; 1 s is ample even on a loaded machine.
  EXPECT_LT(*gone_at - returned_at, milliseconds(1000));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (upstream_.open_responses() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(upstream_.open_responses(), 0);
}

TEST_F(OpenAiFaultsTest, EnormousLineIsAnErrorWithBoundedMemory) {
  FakeUpstreamScript script;
  script.pieces = {OpenAiDeltaEvent("a"), "data: {\"choices\":[{\"delta\":{\"content\":\""};
  // Far more than socket buffers hold: the fake can only finish writing if
  // the client keeps reading.
  script.filler_bytes = std::uint64_t{256} << 20;
  upstream_.SetScript(script);
  auto client = Client(0, 0);
  const long rss_before = PeakRssKib();
  const Outcome outcome = RunStream(*client);
  EXPECT_EQ(outcome.status.message(), "upstream sent an oversized event: SSE line longer than 1048576 bytes");
  EXPECT_EQ(outcome.stats.fault, StreamFault::kMalformed);
  EXPECT_EQ(outcome.deltas, std::vector<std::string>{"a"});
  EXPECT_TRUE(WaitForClientGone(upstream_).has_value()) << "the client read the whole line";
  EXPECT_LT(PeakRssKib() - rss_before, 64 * 1024);
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(OpenAiFaultsTest, EnormousErrorBodyIsCutShort) {
  FakeUpstreamScript script;
  script.status = 500;
  script.content_type = "text/plain";
  script.pieces = {"Internal error: "};
  script.filler_bytes = std::uint64_t{256} << 20;
  upstream_.SetScript(script);
  OpenAiConfig config = testing::FastRetryConfig(upstream_);
  config.max_attempts = 2;
  auto client = MakeOpenAiClient(config);
  const long rss_before = PeakRssKib();
  const Outcome outcome = RunStream(*client);
  const std::string& message = outcome.status.message();
  EXPECT_EQ(message.rfind("upstream returned HTTP 500: Internal error: xxx", 0), 0u) << message.substr(0, 100);
  EXPECT_LT(message.size(), 300u);
  EXPECT_NE(message.find("(gave up after 2 attempts)"), std::string::npos);
  EXPECT_LT(PeakRssKib() - rss_before, 64 * 1024);
  EXPECT_EQ(upstream_.request_count(), 2);
}

}  // namespace
}  // namespace flowrun
