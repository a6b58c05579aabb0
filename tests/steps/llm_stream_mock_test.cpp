// llm-stream's scripted mock replies: `mock_reply` (a template over the
// state) and `mock_replies` (one per call of the step within a run, the last
// repeating, counted per run), streamed word by word by the mock provider;
// ignored by a real provider; their load-time errors, exactly.
#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "fakes/subprocess.h"
#include "flow/flow_loader.h"
#include "flow/runner.h"
#include "llm/mock_client.h"

namespace flowrun {
namespace {

std::string FlowText(const std::string& llm_params) {
  return "version: 1\nname: chat\ninput:\n  message: string\nsteps:\n"
         "  - type: append-message\n    content: \"{{ input.message }}\"\n"
         "  - id: reply\n    type: llm-stream\n" +
         llm_params;
}

LoadResult Load(const std::string& source, std::shared_ptr<LlmClient> client = MakeMockClient({})) {
  return LoadFlowFromString(source, "chat.yaml", testing::BuiltinRegistry(), testing::FakeEnvironment(client));
}

std::string Errors(const std::string& source) { return Load(source).diagnostics.ToString(); }

struct RunOutput {
  RunResult result;
  std::vector<std::string> chunks;
};

RunOutput RunOnce(const Flow& flow, const std::string& message) {
  RunOutput run;
  Cancellation cancel;
  run.result = RunFlow(flow, {{"message", message}}, [&](const Event& event) {
    if (event.type == Event::Type::kChunk) run.chunks.push_back(event.text);
    return true;
  }, cancel);
  return run;
}

// One call of `step`, as a loop's iteration makes it: on a private loop, with
// the run's state and counters, so several calls can share one run.
std::string CallStep(const Step& step, nlohmann::json& state, RunCounters& counters) {
  EventLoop loop;
  EXPECT_TRUE(loop.Init().ok());
  CancelScope scope;
  Cancellation cancel;
  const std::string id = "reply";
  StepContext context{id, state, cancel, [](std::string_view) { return true; }, counters};
  context.loop = &loop;
  context.scope = &scope;
  std::optional<Status> status;
  loop.Post([&] {
    StartTask(step.RunAsync(context), [&](std::optional<Status> value, std::exception_ptr) {
      status = value;
      loop.Stop();
    });
  });
  loop.Run();
  EXPECT_TRUE(status && status->ok()) << (status ? status->message() : "no status");
  return state.value("reply", "");
}

TEST(LlmStreamMock, MockReplyIsATemplateStreamedWordByWord) {
  auto loaded = Load(FlowText("    mock_reply: \"Category: {{ input.message }}, confirmed.\"\n"));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  RunOutput run = RunOnce(*loaded.flow, "billing");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.chunks, (std::vector<std::string>{"Category:", " billing,", " confirmed."}));
  EXPECT_EQ(run.result.state["reply"], "Category: billing, confirmed.");
  EXPECT_EQ(loaded.flow->steps[1].step->Describe(), "mock (offline), scripted reply; set OPENAI_API_KEY or "
                                                    "OPENAI_BASE_URL for a real model");
}

TEST(LlmStreamMock, MockRepliesGoInOrderOnePerCallAndTheLastRepeats) {
  auto loaded = Load(FlowText("    mock_replies: [\"draft one\", \"draft two for {{ input.message }}\", \"final\"]\n"));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  const Step& step = *loaded.flow->steps[1].step;
  nlohmann::json state = {{"input", {{"message", "Ada"}}}, {"history", nlohmann::json::array()}};
  RunCounters run;
  EXPECT_EQ(CallStep(step, state, run), "draft one");
  EXPECT_EQ(CallStep(step, state, run), "draft two for Ada");
  EXPECT_EQ(CallStep(step, state, run), "final");
  EXPECT_EQ(CallStep(step, state, run), "final");
  // Another run starts at the first reply again: the count is per run.
  RunCounters other_run;
  EXPECT_EQ(CallStep(step, state, other_run), "draft one");
  EXPECT_EQ(CallStep(step, state, run), "final");
  EXPECT_EQ(step.Describe(), "mock (offline), 3 scripted replies; set OPENAI_API_KEY or OPENAI_BASE_URL for a "
                             "real model");
}

TEST(LlmStreamMock, EachRunOfAFlowStartsAtTheFirstReply) {
  auto loaded = Load(FlowText("    mock_replies: [\"first answer\", \"second answer\"]\n"));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  for (int i = 0; i < 3; ++i) {
    RunOutput run = RunOnce(*loaded.flow, "hi");
    ASSERT_TRUE(run.result.ok) << run.result.error;
    EXPECT_EQ(run.result.state["reply"], "first answer") << "run " << i + 1;
  }
}

TEST(LlmStreamMock, WithoutAScriptTheMockEchoesAsBefore) {
  auto loaded = Load(FlowText("    provider: mock\n"));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  RunOutput run = RunOnce(*loaded.flow, "hello");
  EXPECT_EQ(run.result.state["reply"],
            "You said: \"hello\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real "
            "one.");
}

TEST(LlmStreamMock, ARealProviderIgnoresTheScript) {
  auto client = std::make_shared<testing::FakeLlmClient>();
  auto loaded = Load(FlowText("    provider: openai\n    base_url: http://127.0.0.1:1/v1\n"
                          "    mock_reply: \"scripted {{ input.message }}\"\n"),
                     client);
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  RunOutput run = RunOnce(*loaded.flow, "hi");
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.result.state["reply"], "Hello!");
  ASSERT_EQ(client->requests().size(), 1u);
  EXPECT_FALSE(client->requests()[0].mock_reply.has_value());
}

TEST(LlmStreamMock, AReplyThatCannotRenderFailsTheStepNamingIt) {
  auto loaded = Load(FlowText("    output: answer\n    mock_reply: \"{{ answer.text }}\"\n"));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  RunOutput run = RunOnce(*loaded.flow, "hi");
  EXPECT_FALSE(run.result.ok);
  EXPECT_EQ(run.result.error_step, "reply");
  EXPECT_EQ(run.result.error,
            "in the mock reply: 'answer' is not set");

  const std::string flow =
      testing::WriteTempFile("unrenderable.yaml", FlowText("    output: answer\n    mock_reply: \"{{ answer.text }}\"\n"));
  const auto result = testing::RunProcess({FLOWRUN_BINARY, "run", flow, "--input", "message=hi"},
                                          {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "");
  // The load already warned that nothing sets `answer` before the step reads it.
  EXPECT_EQ(result.err, flow +
                            ":11:21: warning: 'answer' may not be set here: not every path to this step sets it "
                            "(write 'answer | default(...)' if that is expected)\n"
                            "        mock_reply: \"{{ answer.text }}\"\n"
                            "                        ^~~~~~\n"
                            "flowrun run: error in step 'reply': in the mock reply: 'answer' is not set\n");
}

TEST(LlmStreamMock, ScriptErrorsAreReportedAtTheirPlace) {
  EXPECT_EQ(Errors(FlowText("    mock_reply: a\n    mock_replies: [b]\n")),
            "chat.yaml:9:11: error: step 'reply' has both mock_reply and mock_replies; give one of them\n"
            "        type: llm-stream\n"
            "              ^~~~~~~~~~\n");
  EXPECT_EQ(Errors(FlowText("    mock_replies: []\n")),
            "chat.yaml:10:19: error: 'mock_replies' is empty; give at least one answer\n"
            "        mock_replies: []\n"
            "                      ^\n");
  EXPECT_EQ(Errors(FlowText("    mock_replies: one\n")),
            "chat.yaml:10:19: error: 'mock_replies' must be a list of mock answers, got a string\n"
            "        mock_replies: one\n"
            "                      ^~~\n");
  EXPECT_EQ(Errors(FlowText("    mock_replies: [ok, {a: 1}]\n")),
            "chat.yaml:10:25: error: unknown key 'a' in a mock answer\n"
            "        mock_replies: [ok, {a: 1}]\n"
            "                            ^\n");
  EXPECT_EQ(Errors(FlowText("    mock_replies: [ok, [1]]\n")),
            "chat.yaml:10:24: error: a mock answer in 'mock_replies' must be a template or a mapping of text, json, "
            "tool_calls, reasoning; got a list\n"
            "        mock_replies: [ok, [1]]\n"
            "                           ^\n");
  EXPECT_EQ(Errors(FlowText("    mock_replies: [\"ok\", \"{{ inptu.message }}\"]\n")),
            "chat.yaml:10:30: error: unknown variable 'inptu'; did you mean 'input'?\n"
            "        mock_replies: [\"ok\", \"{{ inptu.message }}\"]\n"
            "                                 ^~~~~\n");
}

TEST(LlmStreamMock, ParametersAreListed) {
  const auto steps = testing::RunProcess({FLOWRUN_BINARY, "steps"});
  EXPECT_NE(steps.out.find("  mock_reply (mock answer): mock provider: the answer, a template over the state, or "
                           "{text | json, tool_calls: [{name, arguments}], reasoning} (default: it echoes the last "
                           "user message)\n"),
            std::string::npos)
      << steps.out;
  EXPECT_NE(steps.out.find("  mock_replies (list of mock answers): mock provider: answers used in order, one per "
                           "model call of this step in a run (tool rounds and schema retries count); the last "
                           "repeats\n"),
            std::string::npos)
      << steps.out;
}

TEST(LlmStreamMock, FlowrunRunStreamsTheScriptedReply) {
  const std::string flow = testing::WriteTempFile("scripted.yaml", FlowText("    mock_reply: \"Hi {{ input.message }}!\"\n"));
  const auto result = testing::RunProcess({FLOWRUN_BINARY, "run", flow, "--input", "message=Grace"},
                                          {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Hi Grace!\n");
}

}  // namespace
}  // namespace flowrun
