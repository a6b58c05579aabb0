// The flow file's `openai:` block: what it compiles to, and the exact
// diagnostics for each mistake; model ids that clash between flows.
#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/flow_catalog.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

using testing::BuiltinRegistry;
using testing::FakeEnvironment;
using testing::FakeLlmClient;

LoadResult Load(const std::string& openai_block, const std::string& name = "chat") {
  const std::string source = "version: 1\nname: " + name +
                             "\ninput:\n  message: string\n  history: {type: messages, default: []}\n"
                             "  topic: {type: string, default: \"\"}\n" +
                             openai_block + "steps:\n  - type: llm-stream\n";
  StepRegistry registry = BuiltinRegistry();
  return LoadFlowFromString(source, "flows/" + name + ".yaml", registry,
                            FakeEnvironment(std::make_shared<FakeLlmClient>()));
}

TEST(OpenAiBlock, DefaultsExposeTheFlowUnderItsName) {
  LoadResult result = Load("");
  ASSERT_TRUE(result.flow) << result.diagnostics.ToString();
  EXPECT_TRUE(result.flow->openai.exposed);
  EXPECT_EQ(OpenAiModelId(*result.flow), "chat");
  EXPECT_TRUE(result.flow->openai.pass_through.empty());
  EXPECT_TRUE(result.flow->openai.input.empty());
}

TEST(OpenAiBlock, ModelPassThroughAndInputMap) {
  LoadResult result = Load(
      "openai:\n  model: acme/assistant-1\n  pass_through: [temperature, max_completion_tokens, temperature]\n"
      "  input: {message: last_user_message, history: messages, topic: system}\n");
  ASSERT_TRUE(result.flow) << result.diagnostics.ToString();
  EXPECT_EQ(OpenAiModelId(*result.flow), "acme/assistant-1");
  EXPECT_EQ(result.flow->openai.pass_through, (std::vector<std::string>{"temperature", "max_completion_tokens"}));
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(result.flow->openai.input, (std::vector<Pair>{{"message", "last_user_message"},
                                                          {"history", "messages"},
                                                          {"topic", "system"}}));
}

TEST(OpenAiBlock, FalseOptsOut) {
  LoadResult result = Load("openai: false\n");
  ASSERT_TRUE(result.flow) << result.diagnostics.ToString();
  EXPECT_FALSE(result.flow->openai.exposed);
}

TEST(OpenAiBlock, MistakesAreCompilerStyleErrors) {
  EXPECT_EQ(Load("openai: yes please\n").diagnostics.ToString(),
            "flows/chat.yaml:7:9: error: 'openai' must be false or a mapping like {model: my-assistant}, got a string\n"
            "    openai: yes please\n"
            "            ^~~~~~~~~~\n");
  EXPECT_EQ(Load("openai:\n  modle: x\n").diagnostics.ToString(),
            "flows/chat.yaml:8:3: error: unknown key 'modle' in 'openai'; did you mean 'model'?\n"
            "      modle: x\n"
            "      ^~~~~\n");
  EXPECT_EQ(Load("openai:\n  model: \"my model\"\n").diagnostics.ToString(),
            "flows/chat.yaml:8:10: error: model id 'my model' may only hold letters, digits, '.', '_', '-', ':' "
            "and '/' (at most 128)\n"
            "      model: \"my model\"\n"
            "             ^~~~~~~~~~\n");
  EXPECT_EQ(Load("openai:\n  pass_through: [temprature, top_k]\n").diagnostics.ToString(),
            "flows/chat.yaml:8:18: error: 'openai.pass_through' cannot hold 'temprature'; did you mean "
            "'temperature'? (it takes temperature, top_p, max_tokens, max_completion_tokens)\n"
            "      pass_through: [temprature, top_k]\n"
            "                     ^~~~~~~~~~\n"
            "flows/chat.yaml:8:30: error: 'openai.pass_through' cannot hold 'top_k'; did you mean 'top_p'? "
            "(it takes temperature, top_p, max_tokens, max_completion_tokens)\n"
            "      pass_through: [temprature, top_k]\n"
            "                                 ^~~~~\n");
  const std::string line = "  input: {mesage: last_user_message, history: last_usr_message, topic: messages}";
  const std::string indented = "    " + line;  // as diagnostics quote it
  EXPECT_EQ(Load("openai:\n" + line + "\n").diagnostics.ToString(),
            "flows/chat.yaml:8:11: error: 'openai.input' maps 'mesage', which is not an input of the flow; did "
            "you mean 'message'?\n" + indented + "\n"
            "              ^~~~~~\n"
            "flows/chat.yaml:8:47: error: unknown message source 'last_usr_message'; did you mean "
            "'last_user_message'? (use last_user_message, earlier_messages, messages or system)\n" + indented + "\n"
            "                                                  ^~~~~~~~~~~~~~~~\n"
            "flows/chat.yaml:8:72: error: 'messages' gives messages, but input 'topic' is of type string\n" +
                indented + "\n"
            "                                                                           ^~~~~~~~\n");
}

TEST(OpenAiBlock, TwoFlowsWithOneModelIdClash) {
  LoadResult a = Load("openai: {model: helper}\n", "a");
  LoadResult b = Load("", "helper");
  LoadResult hidden = Load("openai: false\n", "helper");
  ASSERT_TRUE(a.flow && b.flow && hidden.flow);
  // Distinct endpoints (/flows/a, /flows/helper), one model id.
  EXPECT_EQ(EndpointClashes({a.flow, b.flow}),
            (std::vector<std::string>{"flows 'a' (flows/a.yaml) and 'helper' (flows/helper.yaml) both use model id "
                                      "'helper'; give one of them another with openai.model"}));
  EXPECT_TRUE(EndpointClashes({a.flow, hidden.flow}).empty());
}

TEST(OpenAiBlock, FlowsMayNotClaimTheFacadesPaths) {
  StepRegistry registry = BuiltinRegistry();
  for (const std::string path : {"/v1/chat/completions", "/v1/models", "/v1/models/chat"}) {
    auto result = LoadFlowFromString("version: 1\nname: x\nendpoint: " + path + "\nsteps:\n  - type: llm-stream\n",
                                     "x.yaml", registry, FakeEnvironment(std::make_shared<FakeLlmClient>()));
    EXPECT_EQ(result.diagnostics.list().size(), 1u) << path;
    if (!result.diagnostics.empty()) {
      EXPECT_EQ(result.diagnostics.list()[0].message, "endpoint '" + path + "' is reserved by flowrun");
    }
  }
}

}  // namespace
}  // namespace flowrun
