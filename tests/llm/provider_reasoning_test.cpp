// Reasoning through StreamAsync on a test's own loop, against the fake
// upstream: ollama's message.thinking and anthropic's thinking_delta reach
// StreamContext::on_reasoning on the loop and never the reply text; a
// reasoning delta handed on counts as output (an overloaded_error after it
// is not retried), while without a reasoning consumer nothing was handed on
// and the same fault is retried.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "core/cancel_scope.h"
#include "fakes/fake_openai_upstream.h"
#include "llm/anthropic_client.h"
#include "llm/loop_test_support.h"
#include "llm/ollama_client.h"
#include "llm/openai_test_support.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::LoopThread;

struct Call {
  CancelScope scope;
  StreamStats stats;
  ChatRequest request = testing::HelloRequest();
  std::string text;
  std::string reasoning;
  bool all_on_loop = true;
  std::optional<Status> status;
};

class ProviderReasoningTest : public ::testing::Test {
 protected:
  void TearDown() override {
    loop_.Run([&] { call_.scope.Cancel("test over"); });
    EXPECT_TRUE(loop_.WaitFor([&] { return call_.status.has_value(); }));
  }

  OpenAiConfig Config() {
    OpenAiConfig config;
    config.base_url = "http://127.0.0.1:" + std::to_string(upstream_.port());
    config.retry_initial_ms = 10;
    config.retry_max_ms = 40;
    return config;
  }

  // Runs the call on the loop and waits (10 s at most) for its end.
  void RunOnLoop(LlmClient& client, bool want_reasoning) {
    loop_.Run([&] {
      EventLoop& loop = loop_.loop();
      DeltaCallback on_delta = [this, &loop](std::string_view text) {
        call_.all_on_loop = call_.all_on_loop && EventLoop::Current() == &loop;
        call_.text += text;
        return true;
      };
      StreamContext context{loop, call_.scope, nullptr, &call_.stats};
      if (want_reasoning) {
        context.on_reasoning = [this, &loop](std::string_view text) {
          call_.all_on_loop = call_.all_on_loop && EventLoop::Current() == &loop;
          call_.reasoning += text;
        };
      }
      StartTask<Status>(client.StreamAsync(call_.request, std::move(on_delta), context),
                        [this](std::optional<Status> status, std::exception_ptr) {
                          call_.status = status.value_or(Status::Error("threw"));
                        });
    });
    ASSERT_TRUE(loop_.WaitFor([&] { return call_.status.has_value(); })) << "the call did not end within 10 s";
  }

  FakeOpenAiUpstream upstream_;
  LoopThread loop_;
  Call call_;
};

std::string AnthropicEvent(const std::string& name, const std::string& data) {
  return "event: " + name + "\ndata: " + data + "\n\n";
}
const std::string kThinking =
    AnthropicEvent("message_start", R"({"type":"message_start","message":{"usage":{"input_tokens":3}}})") +
    AnthropicEvent("content_block_start",
                   R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})") +
    AnthropicEvent("content_block_delta",
                   R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}})");
const std::string kOverloaded =
    AnthropicEvent("error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
const std::string kAnswer =
    AnthropicEvent("content_block_start",
                   R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})") +
    AnthropicEvent("content_block_delta",
                   R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi."}})") +
    AnthropicEvent("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}})") +
    AnthropicEvent("message_stop", R"({"type":"message_stop"})");

FakeUpstreamScript Script(std::string body, std::string content_type = "text/event-stream") {
  FakeUpstreamScript script;
  script.content_type = std::move(content_type);
  script.pieces = {std::move(body)};
  return script;
}

TEST_F(ProviderReasoningTest, OllamaThinkingReachesOnReasoningNotTheReply) {
  upstream_.SetScript(Script(
      R"({"message":{"role":"assistant","content":"","thinking":"Let me think."},"done":false})" "\n"
      R"({"message":{"role":"assistant","content":"Hello"},"done":false})" "\n"
      R"({"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":2})" "\n",
      "application/x-ndjson"));
  auto client = MakeOllamaClient(Config());
  RunOnLoop(*client, /*want_reasoning=*/true);
  loop_.Run([&] {
    ASSERT_TRUE(call_.status->ok()) << call_.status->message();
    EXPECT_EQ(call_.reasoning, "Let me think.");
    EXPECT_EQ(call_.text, "Hello");
    EXPECT_TRUE(call_.all_on_loop);
    EXPECT_EQ(call_.stats.completion_tokens, 2);
  });
}

TEST_F(ProviderReasoningTest, AnthropicReasoningHandedOnIsOutputSoNoRetryFollows) {
  upstream_.SetScripts({Script(kThinking + kOverloaded), Script(kThinking + kAnswer)});
  auto client = MakeAnthropicClient(Config());
  RunOnLoop(*client, /*want_reasoning=*/true);
  loop_.Run([&] {
    EXPECT_EQ(call_.status->message(), "upstream error: overloaded_error: Overloaded");
    EXPECT_EQ(call_.reasoning, "Hmm.");
    EXPECT_EQ(call_.stats.attempts, 1);
  });
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(ProviderReasoningTest, AnthropicReasoningNobodyReadsDoesNotStopARetry) {
  upstream_.SetScripts({Script(kThinking + kOverloaded), Script(kThinking + kAnswer)});
  auto client = MakeAnthropicClient(Config());
  RunOnLoop(*client, /*want_reasoning=*/false);
  loop_.Run([&] {
    ASSERT_TRUE(call_.status->ok()) << call_.status->message();
    EXPECT_EQ(call_.text, "Hi.");
    EXPECT_EQ(call_.stats.attempts, 2);
    EXPECT_EQ(call_.stats.prompt_tokens, 3);
    EXPECT_EQ(call_.stats.completion_tokens, 4);
  });
}

}  // namespace
}  // namespace flowrun
