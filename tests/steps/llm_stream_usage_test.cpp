// llm-stream's token usage: each call's usage (the mock's words and tokens,
// or what an OpenAI-compatible upstream reported) adds into the run's
// counters and shows in the step's step:after event; a streamed answer cut
// by its token limit (finish_reason "length") marks the run
// stopped_on_length; an upstream that reports no usage counts 0.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "fakes/fake_openai_upstream.h"
#include "fakes/subprocess.h"
#include "flow/events.h"
#include "flow/flow_test_support.h"
#include "llm/mock_client.h"
#include "llm/provider_factory.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::kOpenAiDoneEvent;
using testing::OpenAiDeltaEvent;
using testing::OpenAiFinishEvent;
using testing::OpenAiUsageEvent;

struct UsageRun {
  RunResult result;
  std::vector<std::string> chunks;
  std::vector<nlohmann::json> afters;  // step:after events, as `run --events` shows them
};

UsageRun RunWith(const Flow& flow, const std::string& message) {
  UsageRun run;
  Cancellation cancel;
  run.result = RunFlow(flow, {{"message", message}}, [&](const Event& event) {
    if (event.type == Event::Type::kChunk) run.chunks.push_back(event.text);
    if (event.type == Event::Type::kStepAfter) run.afters.push_back(EventToJson(event));
    return true;
  }, cancel);
  return run;
}

std::shared_ptr<const Flow> LoadWithMock(const std::string& yaml) {
  return testing::LoadOrFail(yaml, testing::BuiltinRegistry(), testing::FakeEnvironment(MakeMockClient({})));
}

nlohmann::json Usage(long long prompt, long long completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}};
}

// The mock counts the words of the messages it is sent as prompt tokens and
// the tokens it streams as completion tokens.
TEST(LlmStreamUsage, MockUsageAddsIntoTheRunAndEachStepAfter) {
  auto flow = LoadWithMock(R"yaml(version: 1
name: two
input: {message: string}
steps:
  - {type: append-message, content: "{{ input.message }}"}
  - {id: first, type: llm-stream, system: "Be brief.", mock_reply: "one two three", stream: false, output: draft}
  - {id: second, type: llm-stream, mock_reply: "four five"}
)yaml");
  ASSERT_TRUE(flow);
  const UsageRun run = RunWith(*flow, "hello there world");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  // first: "Be brief." + "hello there world" = 5 words, 3 tokens back;
  // second: the history only, 3 words, 2 tokens back.
  EXPECT_EQ(run.result.counters.prompt_tokens, 8);
  EXPECT_EQ(run.result.counters.completion_tokens, 5);
  EXPECT_FALSE(run.result.counters.stopped_on_length);
  ASSERT_EQ(run.afters.size(), 3u);
  EXPECT_FALSE(run.afters[0].contains("usage")) << run.afters[0];  // append-message calls no model
  EXPECT_EQ(run.afters[1]["usage"], Usage(5, 3)) << run.afters[1];
  EXPECT_EQ(run.afters[2]["usage"], Usage(3, 2)) << run.afters[2];
}

TEST(LlmStreamUsage, MaxTokensCutsTheMockReplyAndAStreamedStepStopsOnLength) {
  auto flow = LoadWithMock(R"yaml(version: 1
name: cut
input: {message: string}
steps:
  - {type: append-message, content: "{{ input.message }}"}
  - {id: reply, type: llm-stream, mock_reply: "one two three four five", max_tokens: 3}
)yaml");
  ASSERT_TRUE(flow);
  const UsageRun run = RunWith(*flow, "go");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.chunks, (std::vector<std::string>{"one", " two", " three"}));
  EXPECT_EQ(run.result.state["reply"], "one two three");
  EXPECT_EQ(run.result.counters.completion_tokens, 3);
  EXPECT_TRUE(run.result.counters.stopped_on_length);
}

// Only a step that streams to the client decides how the answer ended.
TEST(LlmStreamUsage, AQuietStepCutByItsLimitDoesNotMarkTheRun) {
  auto flow = LoadWithMock(R"yaml(version: 1
name: quiet
steps:
  - {id: notes, type: llm-stream, mock_reply: "a b c d", max_tokens: 2, stream: false, output: notes}
  - {id: reply, type: llm-stream, mock_reply: "done", max_tokens: 2}
)yaml");
  ASSERT_TRUE(flow);
  const UsageRun run = RunWith(*flow, "x");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["notes"], "a b");
  EXPECT_EQ(run.result.counters.completion_tokens, 3);
  EXPECT_FALSE(run.result.counters.stopped_on_length);
}

class LlmStreamUpstreamUsage : public ::testing::Test {
 protected:
  std::shared_ptr<const Flow> Load() {
    StepEnvironment environment = testing::FakeEnvironment(nullptr);
    environment.make_llm_client = MakeLlmClient;
    return testing::LoadOrFail(R"yaml(version: 1
name: up
steps:
  - {id: plan, type: llm-stream, provider: openai, base_url: ")yaml" + upstream_.base_url() +
                                   R"yaml(", stream: false, output: plan}
  - {id: reply, type: llm-stream, provider: openai, base_url: ")yaml" + upstream_.base_url() + R"yaml("}
)yaml",
                               testing::BuiltinRegistry(), environment);
  }

  FakeOpenAiUpstream upstream_;
};

TEST_F(LlmStreamUpstreamUsage, UpstreamUsageIsSummedOverTheModelSteps) {
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), OpenAiFinishEvent(), OpenAiUsageEvent(10, 4), kOpenAiDoneEvent});
  auto flow = Load();
  ASSERT_TRUE(flow);
  const UsageRun run = RunWith(*flow, "x");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(upstream_.request_count(), 2);
  EXPECT_EQ(run.result.counters.prompt_tokens, 20);
  EXPECT_EQ(run.result.counters.completion_tokens, 8);
  EXPECT_FALSE(run.result.counters.stopped_on_length);
  ASSERT_EQ(run.afters.size(), 2u);
  EXPECT_EQ(run.afters[0]["usage"], Usage(10, 4));
  EXPECT_EQ(run.afters[1]["usage"], Usage(10, 4));
}

TEST_F(LlmStreamUpstreamUsage, AnUpstreamWithoutUsageCountsZero) {
  upstream_.SetStream({OpenAiDeltaEvent("Hi"), OpenAiFinishEvent(), kOpenAiDoneEvent});
  auto flow = Load();
  ASSERT_TRUE(flow);
  const UsageRun run = RunWith(*flow, "x");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.counters.prompt_tokens, 0);
  EXPECT_EQ(run.result.counters.completion_tokens, 0);
  ASSERT_EQ(run.afters.size(), 2u);
  EXPECT_EQ(run.afters[1]["usage"], Usage(0, 0));
}

TEST_F(LlmStreamUpstreamUsage, FinishReasonLengthOnTheStreamedStepMarksTheRun) {
  upstream_.SetStream({OpenAiDeltaEvent("Once"), OpenAiFinishEvent("length"), OpenAiUsageEvent(3, 1),
                       kOpenAiDoneEvent});
  auto flow = Load();
  ASSERT_TRUE(flow);
  const UsageRun run = RunWith(*flow, "x");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["reply"], "Once");
  EXPECT_TRUE(run.result.counters.stopped_on_length);
}

TEST(LlmStreamUsage, RunEventsShowsTheStepsUsage) {
  const std::string flow = testing::WriteTempFile("usage.yaml", R"yaml(version: 1
name: usage
input: {message: string}
steps:
  - {type: append-message, content: "{{ input.message }}"}
  - {id: reply, type: llm-stream, mock_reply: "Hi there"}
)yaml");
  const auto result = testing::RunProcess({FLOWRUN_BINARY, "run", flow, "--events", "--input", "message=hello you"},
                                          {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  nlohmann::json after;
  for (std::string line; std::getline(lines, line);) {
    const auto event = nlohmann::json::parse(line);
    if (event["event"] == "step:after" && event["step"] == "reply") after = event;
  }
  ASSERT_TRUE(after.is_object()) << result.out;
  EXPECT_EQ(after["usage"], Usage(2, 2)) << result.out;
}

}  // namespace
}  // namespace flowrun
