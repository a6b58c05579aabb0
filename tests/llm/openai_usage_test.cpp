// Token usage and finish reasons from OpenAI-compatible upstreams: the
// usage chunk that stream_options.include_usage asks for, read off the
// per-token path (a chunk whose "usage" is null costs nothing more); a
// stream with no usage counts 0, never an error; finish_reason "length"
// reported as such. Wire-level parsing, then the client against
// FakeOpenAiUpstream on 127.0.0.1.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_openai_upstream.h"
#include "llm/openai_client.h"
#include "llm/openai_test_support.h"
#include "llm/openai_wire.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::HttpError;
using testing::kOpenAiDoneEvent;
using testing::OpenAiDeltaEvent;
using testing::OpenAiFinishEvent;
using testing::OpenAiUsageEvent;
using testing::Outcome;
using testing::RunStream;

// With stream_options.include_usage, OpenAI sends "usage": null on every
// chunk and the counts in a last chunk with no choices.
TEST(OpenAiWireTest, ReadsUsageFromTheLastChunkOnly) {
  OpenAiChunk chunk;
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{"content":"a"},"finish_reason":null}],"usage":null})",
                               &chunk).ok());
  EXPECT_FALSE(chunk.has_usage);
  EXPECT_EQ(chunk.prompt_tokens, 0);
  ASSERT_TRUE(ParseOpenAiChunk(R"({"id":"c1","object":"chat.completion.chunk","choices":[],)"
                               R"("usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,)"
                               R"("prompt_tokens_details":{"cached_tokens":0}}})",
                               &chunk).ok());
  EXPECT_TRUE(chunk.has_usage);
  EXPECT_EQ(chunk.prompt_tokens, 12);
  EXPECT_EQ(chunk.completion_tokens, 34);
  EXPECT_EQ(chunk.content, "");
  EXPECT_FALSE(chunk.finished);
  // Some servers put it on the finishing chunk itself.
  ASSERT_TRUE(ParseOpenAiChunk(
      R"({"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"completion_tokens":3,"prompt_tokens":2}})", &chunk)
                  .ok());
  EXPECT_TRUE(chunk.finished);
  EXPECT_EQ(chunk.finish_reason, "stop");
  EXPECT_EQ(chunk.prompt_tokens, 2);
  EXPECT_EQ(chunk.completion_tokens, 3);
}

// A usage the client cannot read counts 0: never an error.
TEST(OpenAiWireTest, UnreadableUsageCountsZero) {
  OpenAiChunk chunk;
  for (const char* odd : {R"({"choices":[],"usage":{}})", R"({"choices":[],"usage":"n/a"})",
                          R"({"choices":[],"usage":{"prompt_tokens":-4,"completion_tokens":2.5}})",
                          R"({"choices":[],"usage":{"prompt_tokens":"7","completion_tokens":null}})",
                          R"({"choices":[],"usage":{"prompt_tokens":1e3}})"}) {
    ASSERT_TRUE(ParseOpenAiChunk(odd, &chunk).ok()) << odd;
    EXPECT_TRUE(chunk.has_usage) << odd;
    EXPECT_EQ(chunk.prompt_tokens, 0) << odd;
    EXPECT_EQ(chunk.completion_tokens, 0) << odd;
  }
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[],"usage":{"prompt_tokens":18446744073709551615}})", &chunk).ok());
  EXPECT_EQ(chunk.prompt_tokens, 1LL << 53);
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{},"finish_reason":7}]})", &chunk).ok());
  EXPECT_TRUE(chunk.finished);
  EXPECT_EQ(chunk.finish_reason, "");
}

class OpenAiUsageTest : public ::testing::Test {
 protected:
  Outcome Run() {
    auto client = MakeOpenAiClient(testing::FastRetryConfig(upstream_));
    return RunStream(*client);
  }

  FakeOpenAiUpstream upstream_;
};

TEST_F(OpenAiUsageTest, AsksForUsageAndReadsItFromTheLastChunk) {
  upstream_.SetStream({OpenAiDeltaEvent("Hel"), OpenAiDeltaEvent("lo"), OpenAiFinishEvent(), OpenAiUsageEvent(12, 2),
                       kOpenAiDoneEvent});
  const Outcome outcome = Run();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.deltas, (std::vector<std::string>{"Hel", "lo"}));
  EXPECT_EQ(outcome.stats.prompt_tokens, 12);
  EXPECT_EQ(outcome.stats.completion_tokens, 2);
  EXPECT_EQ(outcome.stats.finish_reason, "stop");
  const auto body = nlohmann::json::parse(upstream_.last_request().body);
  EXPECT_EQ(body["stream_options"], (nlohmann::json{{"include_usage", true}}));
}

TEST_F(OpenAiUsageTest, UsageSurvivesAnyCutOfTheStream) {
  std::string stream = OpenAiDeltaEvent("Hi") + OpenAiFinishEvent() + OpenAiUsageEvent(7, 1) + kOpenAiDoneEvent;
  for (size_t size : {1u, 5u, 13u}) {
    std::vector<std::string> pieces;
    for (size_t at = 0; at < stream.size(); at += size) pieces.push_back(stream.substr(at, size));
    upstream_.SetStream(pieces);
    const Outcome outcome = Run();
    ASSERT_TRUE(outcome.status.ok()) << size << ": " << outcome.status.message();
    EXPECT_EQ(outcome.stats.prompt_tokens, 7) << size;
    EXPECT_EQ(outcome.stats.completion_tokens, 1) << size;
  }
}

// Servers that ignore stream_options: the answer is fine, its usage 0.
TEST_F(OpenAiUsageTest, AStreamWithoutUsageCountsZero) {
  upstream_.SetScript(testing::HelloStream());
  const Outcome outcome = Run();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.stats.prompt_tokens, 0);
  EXPECT_EQ(outcome.stats.completion_tokens, 0);
  EXPECT_EQ(outcome.stats.finish_reason, "stop");
}

TEST_F(OpenAiUsageTest, ReportsFinishReasonLength) {
  upstream_.SetStream({OpenAiDeltaEvent("Once upon"), OpenAiFinishEvent("length"), OpenAiUsageEvent(5, 2),
                       kOpenAiDoneEvent});
  const Outcome outcome = Run();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.stats.finish_reason, "length");
  EXPECT_EQ(outcome.stats.completion_tokens, 2);
}

// A server that closes right after its usage chunk, without [DONE].
TEST_F(OpenAiUsageTest, UsageWithoutDoneStillCounts) {
  upstream_.SetStream({OpenAiDeltaEvent("ok"), OpenAiFinishEvent(), OpenAiUsageEvent(3, 1)});
  const Outcome outcome = Run();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.stats.prompt_tokens, 3);
  EXPECT_EQ(outcome.stats.completion_tokens, 1);
}

// After a retry, the usage is the answer's: the failed attempt sent none.
TEST_F(OpenAiUsageTest, AfterARetryTheAnswersUsageCounts) {
  FakeUpstreamScript answer;
  answer.pieces = {OpenAiDeltaEvent("ok"), OpenAiFinishEvent(), OpenAiUsageEvent(9, 4), kOpenAiDoneEvent};
  upstream_.SetScripts({HttpError(503), answer});
  const Outcome outcome = Run();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.message();
  EXPECT_EQ(outcome.stats.attempts, 2);
  EXPECT_EQ(outcome.stats.prompt_tokens, 9);
  EXPECT_EQ(outcome.stats.completion_tokens, 4);
}

}  // namespace
}  // namespace flowrun
