// Runner: event order, state, errors and cancellation, with a fake model.
#include "flow/runner.h"

#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

using testing::BuiltinRegistry;
using testing::FakeEnvironment;
using testing::FakeLlmClient;

const char kChat[] = R"(version: 1
name: chat
input:
  message: {type: string, required: true}
  history: {type: messages, default: []}
steps:
  - id: user
    type: append-message
    content: "{{ input.message }}"
  - id: reply
    type: llm-stream
    model: test-model
    system: "Answer {{ input.message }} briefly."
    temperature: 0.2
  - type: append-reply
)";

struct Fixture {
  std::shared_ptr<FakeLlmClient> client = std::make_shared<FakeLlmClient>();
  std::shared_ptr<const Flow> flow;
  Fixture() {
    StepRegistry registry = BuiltinRegistry();
    auto result = LoadFlowFromString(kChat, "chat.yaml", registry, FakeEnvironment(client));
    EXPECT_TRUE(result.flow) << result.diagnostics.ToString();
    flow = result.flow;
  }
};

std::vector<std::string> Trace(const Flow& flow, const nlohmann::json& input, RunResult* result = nullptr,
                               int stop_after = -1) {
  std::vector<std::string> trace;
  Cancellation cancel;
  RunResult run = RunFlow(flow, input, [&](const Event& event) {
    trace.push_back(std::string(EventName(event.type)) + (event.step.empty() ? "" : " " + event.step) +
                    (event.text.empty() ? "" : " " + event.text));
    return stop_after < 0 || static_cast<int>(trace.size()) < stop_after;
  }, cancel);
  if (result != nullptr) *result = run;
  return trace;
}

TEST(Runner, EmitsEventsInOrderAndBuildsState) {
  Fixture fixture;
  nlohmann::json input = {{"message", "hi"}, {"history", {{{"role", "assistant"}, {"content", "earlier"}}}}};
  RunResult result;
  EXPECT_EQ(Trace(*fixture.flow, input, &result),
            (std::vector<std::string>{"step:before user", "step:after user", "step:before reply", "chunk reply Hel",
                                      "chunk reply lo", "chunk reply !", "step:after reply", "step:before step3",
                                      "step:after step3", "done"}));
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.state["reply"], "Hello!");
  EXPECT_EQ(result.state["history"], nlohmann::json::parse(R"([{"role":"assistant","content":"earlier"},
      {"role":"user","content":"hi"},{"role":"assistant","content":"Hello!"}])"));
  auto requests = fixture.client->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].model, "test-model");
  EXPECT_EQ(requests[0].temperature, 0.2);
  ASSERT_EQ(requests[0].messages.size(), 3u);
  EXPECT_EQ(requests[0].messages[0].role, "system");
  EXPECT_EQ(requests[0].messages[0].content, "Answer hi briefly.");
  EXPECT_EQ(requests[0].messages[2].content, "hi");
}

TEST(Runner, StepErrorStopsTheRunAndDoneStillComesLast) {
  Fixture fixture;
  fixture.client->final_status = Status::Error("upstream returned HTTP 500: boom");
  RunResult result;
  EXPECT_EQ(Trace(*fixture.flow, {{"message", "hi"}, {"history", nlohmann::json::array()}}, &result),
            (std::vector<std::string>{"step:before user", "step:after user", "step:before reply", "chunk reply Hel",
                                      "chunk reply lo", "chunk reply !", "error reply upstream returned HTTP 500: boom",
                                      "done"}));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error_step, "reply");
  EXPECT_EQ(result.state["reply"], "Hello!");  // the partial text stays visible
}

TEST(Runner, ConsumerGoneCancelsTheModelStream) {
  Fixture fixture;
  RunResult result;
  auto trace = Trace(*fixture.flow, {{"message", "hi"}, {"history", nlohmann::json::array()}}, &result, 4);
  // The sink refused "chunk reply Hel": the fake sees the cancellation and stops.
  EXPECT_EQ(trace, (std::vector<std::string>{"step:before user", "step:after user", "step:before reply",
                                             "chunk reply Hel", "error reply client disconnected", "done"}));
  EXPECT_FALSE(result.ok);
}

TEST(Runner, ConcurrentRunsShareNothingMutable) {
  Fixture fixture;
  std::vector<std::thread> threads;
  std::vector<std::string> replies(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      RunResult result;
      Trace(*fixture.flow, {{"message", "m" + std::to_string(i)}, {"history", nlohmann::json::array()}}, &result);
      replies[i] = result.state["history"][0]["content"];
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(replies[i], "m" + std::to_string(i));
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

class ThrowingStep : public Step {
 public:
  Status Run(StepContext&) const override { throw std::runtime_error("boom"); }
};

TEST(Runner, AStepThatThrowsStillEndsWithErrorThenDone) {
  Flow flow;
  FlowStep bad;
  bad.id = "bad";
  bad.type = "throwing";
  bad.path = "bad";
  bad.step = std::make_unique<ThrowingStep>();
  flow.steps.push_back(std::move(bad));
  std::vector<std::string> trace;
  Cancellation cancel;
  RunResult result = RunFlow(flow, nlohmann::json::object(), [&](const Event& event) {
    trace.push_back(std::string(EventName(event.type)) + " " + event.text);
    return true;
  }, cancel);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(trace, (std::vector<std::string>{"step:before ", "error internal error in step: boom", "done "}));
}

}  // namespace
}  // namespace flowrun

namespace flowrun {
namespace {

TEST(Runner, FlushHintsFromTheModelReachTheFlushCallback) {
  Fixture fixture;
  std::string pattern;
  Cancellation cancel;
  RunFlow(
      *fixture.flow, {{"message", "hi"}, {"history", nlohmann::json::array()}},
      [&](const Event& event) {
        if (event.type == Event::Type::kChunk) pattern += "c";
        return true;
      },
      cancel, [&] {
        pattern += "F";
        return true;
      });
  EXPECT_EQ(pattern, "cFcFcF");  // the fake model flushes after every delta
}

}  // namespace
}  // namespace flowrun
