// bench/flows/control20.yaml, the flow of bench scenario h: it validates,
// and run offline (every model step answered by the mock provider) exactly
// 20 control steps run on each path, computing what the flow says, so the
// bench flow cannot silently rot into one that skips its work.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fakes/fake_llm_client.h"
#include "fakes/subprocess.h"
#include "flow/flow_loader.h"
#include "flow/runner.h"
#include "llm/mock_client.h"

namespace flowrun {
namespace {

const std::string kControl20 = std::string(FLOWRUN_SOURCE_DIR) + "/bench/flows/control20.yaml";

struct Control20Run {
  RunResult result;
  std::string streamed;
  std::vector<std::string> control;  // "path branch" of every control step that ran, in order
};

Control20Run RunControl20(const nlohmann::json& body) {
  Control20Run run;
  const StepRegistry registry = testing::BuiltinRegistry();
  const StepEnvironment environment = testing::FakeEnvironment(MakeMockClient(MockConfig{}));
  LoadResult loaded = LoadFlowFromFile(kControl20, registry, environment);
  EXPECT_TRUE(loaded.flow != nullptr) << loaded.diagnostics.ToString();
  if (!loaded.flow) return run;
  InputError error;
  const auto input = loaded.flow->input.Validate(body, &error);
  EXPECT_TRUE(input.has_value()) << error.message;
  if (!input) return run;
  Cancellation cancel;
  run.result = RunFlow(*loaded.flow, *input,
                       [&run](const Event& event) {
                         if (event.type == Event::Type::kChunk) run.streamed += event.text;
                         const bool leaf = event.step_type == "append-message" || event.step_type == "llm-stream" ||
                                           event.step_type == "append-reply";
                         if (event.type == Event::Type::kStepAfter && !leaf) {
                           run.control.push_back(event.path + (event.branch.empty() ? "" : " " + event.branch));
                         }
                         return true;
                       },
                       cancel);
  return run;
}

TEST(BenchFlows, Control20Validates) {
  const auto result = testing::RunProcess({FLOWRUN_BINARY, "validate", kControl20},
                                          {{"OPENAI_API_KEY", std::nullopt}, {"OPENAI_BASE_URL", std::nullopt}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST(BenchFlows, Control20RunsTwentyControlStepsAroundTheModel) {
  const Control20Run run = RunControl20({{"message", "hi"}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  const std::string reply =
      "You said: \"hi\". This is flowrun's mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one.";
  EXPECT_EQ(run.streamed, reply);
  EXPECT_EQ(run.control, (std::vector<std::string>{
                             "normalize", "size/else/short_mode", "size else", "opening/cases.hi/said_hi",
                             "opening hi", "context/else/first_turn", "context else",
                             "route/cases.short-true/small_talk", "route short-true", "tagging", "measure",
                             "check/else/cut/else/complete", "check/else/cut else", "check else",
                             "grade/cases.complete/passed", "grade complete", "followup/then/greet_back",
                             "followup then", "finish", "label"}));
  const nlohmann::json& state = run.result.state;
  EXPECT_EQ(state["summary"], "small-talk (256 tokens, 0 earlier turns)");
  EXPECT_EQ(state["tags"], nlohmann::json::array({"small-talk", "short"}));
  EXPECT_EQ(state["words"], 17);
  EXPECT_EQ(state["chars"], 102);
  EXPECT_EQ(state["note"], "Hi! small-talk (256 tokens, 0 earlier turns)");
  EXPECT_EQ(state["meta"], nlohmann::json({{"route", "small-talk"},
                                           {"words", 17},
                                           {"status", "complete"},
                                           {"note", "Hi! small-talk (256 tokens, 0 earlier turns)"}}));
  EXPECT_EQ(state["label"], "SMALL-TALK 1");
  EXPECT_EQ(state["history"].back(), nlohmann::json({{"role", "assistant"}, {"content", reply}}));
}

TEST(BenchFlows, Control20TakesOtherBranchesForALongerConversation) {
  // 1990 characters: still short mode (budget 256), but the echoed reply
  // (2090 characters) passes budget * 8, so the reply counts as truncated.
  const std::string message = "hello " + std::string(1984, 'x');
  const Control20Run run = RunControl20(
      {{"message", message}, {"history", nlohmann::json::array({{{"role", "user"}, {"content", "earlier"}}})}});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.control, (std::vector<std::string>{
                             "normalize", "size/else/short_mode", "size else", "opening/cases.hello/said_hello",
                             "opening hello", "context/then/last_turn", "context then",
                             "route/cases.short-true/small_talk", "route short-true", "tagging", "measure",
                             "check/else/cut/then/truncated", "check/else/cut then", "check else",
                             "grade/cases.truncated/partial", "grade truncated", "followup/else/plain",
                             "followup else", "finish", "label"}));
  const nlohmann::json& state = run.result.state;
  EXPECT_EQ(state["last_turn"], "earlier");
  EXPECT_EQ(state["chars"], 2090);
  EXPECT_EQ(state["note"], "small-talk (256 tokens, 1 earlier turns)");
  EXPECT_EQ(state["label"], "SMALL-TALK 0");
}

}  // namespace
}  // namespace flowrun
