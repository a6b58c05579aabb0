// llm-stream's `stream: false` (the text goes to the state only: no
// chunks, nothing counted as streamed) and `messages` (an explicit,
// templated list sent instead of the history, after the system prompt).
#include <gtest/gtest.h>

#include "flow/flow_test_support.h"

namespace flowrun {
namespace {

using testing::FakeEnvironment;
using testing::FakeLlmClient;

TEST(LlmStreamParams, StreamFalseKeepsTheTextInTheStateOnly) {
  auto client = std::make_shared<FakeLlmClient>();
  auto flow = testing::LoadOrFail(R"yaml(version: 1
name: quiet
steps:
  - {id: classify, type: llm-stream, stream: false, output: category}
  - {id: answer, type: llm-stream}
)yaml",
                                  testing::BuiltinRegistry(), FakeEnvironment(client));
  ASSERT_TRUE(flow);
  auto traced = testing::TraceRun(*flow);
  EXPECT_EQ(traced.events,
            (std::vector<std::string>{"before classify", "after classify", "before answer", "chunk answer Hel",
                                      "chunk answer lo", "chunk answer !", "after answer", "done ok"}));
  EXPECT_EQ(traced.result.state["category"], "Hello!");
  // What the client was streamed last is the answer's text, not the quiet step's.
  EXPECT_EQ(traced.result.streamed_output, "Hello!");
  EXPECT_EQ(flow->steps[0].step->StreamedOutputKey(), "");
  EXPECT_EQ(flow->steps[1].step->StreamedOutputKey(), "reply");
}

TEST(LlmStreamParams, MessagesAreSentInsteadOfTheHistory) {
  auto client = std::make_shared<FakeLlmClient>();
  auto flow = testing::LoadOrFail(R"yaml(version: 1
name: explicit
input:
  message: string
  history: {type: messages, default: []}
steps:
  - id: ask
    type: llm-stream
    system: "Classify."
    messages:
      - {role: user, content: "Question: {{ input.message | upper }}"}
      - {role: assistant, content: "{{ history | length }} earlier turns"}
)yaml",
                                  testing::BuiltinRegistry(), FakeEnvironment(client));
  ASSERT_TRUE(flow);
  nlohmann::json input = {{"message", "why {{ input.x }}?"},
                          {"history", {{{"role", "user"}, {"content", "earlier"}}}}};
  auto traced = testing::TraceRun(*flow, input);
  ASSERT_TRUE(traced.result.ok) << traced.result.error;
  const auto requests = client->requests();
  ASSERT_EQ(requests.size(), 1u);
  ASSERT_EQ(requests[0].messages.size(), 3u);
  EXPECT_EQ(requests[0].messages[0].role, "system");
  EXPECT_EQ(requests[0].messages[0].content, "Classify.");
  EXPECT_EQ(requests[0].messages[1].role, "user");
  EXPECT_EQ(requests[0].messages[1].content, "Question: WHY {{ INPUT.X }}?") << "a value is never rendered again";
  EXPECT_EQ(requests[0].messages[2].role, "assistant");
  EXPECT_EQ(requests[0].messages[2].content, "1 earlier turns");
}

TEST(LlmStreamParams, AMessageThatCannotRenderFailsTheStep) {
  auto client = std::make_shared<FakeLlmClient>();
  auto flow = testing::LoadOrFail(R"yaml(version: 1
name: explicit
input:
  meta: object
steps:
  - id: ask
    type: llm-stream
    messages: [{role: user, content: "{{ input.meta.lang }}"}]
)yaml",
                                  testing::BuiltinRegistry(), FakeEnvironment(client));
  ASSERT_TRUE(flow);
  auto traced = testing::TraceRun(*flow, {{"meta", nlohmann::json::object()}});
  EXPECT_EQ(traced.result.error, "'input.meta.lang' is not set");
  EXPECT_TRUE(client->requests().empty());
}

}  // namespace
}  // namespace flowrun
