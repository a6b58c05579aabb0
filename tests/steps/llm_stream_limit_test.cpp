// llm-stream's max_reply_bytes: the stored reply never grows past it; going
// over is an error naming the limit and the model is told to stop (its
// transfer aborted). In-process with a fake model, and `flowrun run` with
// the offline mock provider.
#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "fakes/subprocess.h"
#include "flow/flow_loader.h"
#include "flow/runner.h"

namespace flowrun {
namespace {

std::string Flow(const std::string& llm_params) {
  return "version: 1\nname: chat\ninput:\n  message: string\nsteps:\n"
         "  - type: append-message\n    content: \"{{ input.message }}\"\n"
         "  - id: reply\n    type: llm-stream\n" +
         llm_params;
}

TEST(LlmStreamLimit, OverMaxReplyBytesStopsTheModelAndFailsNamingTheLimit) {
  auto client = std::make_shared<testing::FakeLlmClient>();
  client->deltas = std::vector<std::string>(100, "0123456789");
  StepRegistry registry = testing::BuiltinRegistry();
  auto loaded = LoadFlowFromString(Flow("    max_reply_bytes: 55\n"), "chat.yaml", registry,
                                   testing::FakeEnvironment(client));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  std::string chunks;
  std::string error;
  Cancellation cancel;
  RunResult result = RunFlow(*loaded.flow, {{"message", "hi"}}, [&](const Event& event) {
    if (event.type == Event::Type::kChunk) chunks += event.text;
    if (event.type == Event::Type::kError) error = event.text;
    return true;
  }, cancel);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, "the reply is over max_reply_bytes (55 bytes)");
  EXPECT_EQ(result.error_step, "reply");
  EXPECT_EQ(error, result.error);
  EXPECT_EQ(chunks, "01234567890123456789012345678901234567890123456789");  // the five deltas that fit
  EXPECT_EQ(result.state["reply"], chunks);
  EXPECT_EQ(client->offered.load(), 6) << "the model was not stopped at the delta over the limit";
  EXPECT_EQ(result.counters.upstream_errors, 0);
}

TEST(LlmStreamLimit, AReplyOfExactlyTheLimitIsFine) {
  auto client = std::make_shared<testing::FakeLlmClient>();
  client->deltas = {"12345", "67890"};
  StepRegistry registry = testing::BuiltinRegistry();
  auto loaded = LoadFlowFromString(Flow("    max_reply_bytes: 10\n"), "chat.yaml", registry,
                                   testing::FakeEnvironment(client));
  ASSERT_TRUE(loaded.flow) << loaded.diagnostics.ToString();
  Cancellation cancel;
  RunResult result = RunFlow(*loaded.flow, {{"message", "hi"}}, [](const Event&) { return true; }, cancel);
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.state["reply"], "1234567890");
}

TEST(LlmStreamLimit, ParameterIsCheckedAndListed) {
  const std::string bad = testing::WriteTempFile("bad.yaml", Flow("    max_reply_bytes: 0\n"));
  const auto validated = testing::RunProcess({FLOWRUN_BINARY, "validate", bad});
  EXPECT_EQ(validated.exit_code, 1);
  EXPECT_NE(validated.err.find("error: max_reply_bytes must be at least 1"), std::string::npos) << validated.err;
  const auto steps = testing::RunProcess({FLOWRUN_BINARY, "steps"});
  EXPECT_NE(steps.out.find("  max_reply_bytes (integer, default 4194304)"), std::string::npos) << steps.out;
}

TEST(LlmStreamLimit, MockProviderOverTheLimitFailsTheRun) {
  const std::string flow = testing::WriteTempFile("mock.yaml", Flow("    provider: mock\n    max_reply_bytes: 16\n"));
  const auto result = testing::RunProcess({FLOWRUN_BINARY, "run", flow, "--input", "message=hello there"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("flowrun run: error in step 'reply': the reply is over max_reply_bytes (16 bytes)\n"),
            std::string::npos)
      << result.err;
  EXPECT_LE(result.out.size(), 16u + 1) << result.out;  // the text that fit, and a line end
  EXPECT_EQ(result.out.rfind("You said", 0), 0u) << result.out;
}

}  // namespace
}  // namespace flowrun
