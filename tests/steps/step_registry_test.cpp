#include "steps/step_registry.h"

#include <gtest/gtest.h>

#include "fakes/fake_llm_client.h"
#include "flow/flow_loader.h"

namespace flowrun {
namespace {

StepType Named(const std::string& name) {
  StepType type;
  type.name = name;
  type.factory = [](const StepConfig&, const StepEnvironment&, Status*) { return nullptr; };
  return type;
}

TEST(StepRegistry, RegistersListsAndRefusesDuplicates) {
  StepRegistry registry = testing::BuiltinRegistry();
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"append-message", "append-reply", "call", "fail", "http", "if",
                                                        "llm-stream", "loop", "map", "parallel", "set", "switch"}));
  EXPECT_TRUE(registry.Register(Named("custom")).ok());
  Status again = registry.Register(Named("llm-stream"));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(), "step type 'llm-stream' is already registered");
  EXPECT_NE(registry.Find("custom"), nullptr);
  EXPECT_EQ(registry.Find("nope"), nullptr);
  StepType no_factory;
  no_factory.name = "x";
  Status refused = registry.Register(no_factory);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.message(), "step type 'x' has no factory");
}

TEST(StepRegistry, FactoryErrorIsReportedAtTheStepType) {
  StepRegistry registry;
  StepType failing = Named("failing");
  failing.factory = [](const StepConfig&, const StepEnvironment&, Status* error) {
    *error = Status::Error("failing steps cannot be built");
    return std::unique_ptr<Step>();
  };
  ASSERT_TRUE(registry.Register(failing).ok());
  auto result = LoadFlowFromString("version: 1\nname: f\nsteps:\n  - type: failing\n", "f.yaml", registry,
                                   testing::FakeEnvironment(nullptr));
  EXPECT_EQ(result.diagnostics.ToString(),
            "f.yaml:4:11: error: failing steps cannot be built\n      - type: failing\n              ^~~~~~~\n");
}

// provider: auto picks openai only when a key or base URL is configured.
TEST(LlmStreamStep, ChoosesProviderFromEnvironment) {
  StepRegistry registry = testing::BuiltinRegistry();
  const std::string flow = "version: 1\nname: f\nsteps:\n  - type: llm-stream\n";
  struct Case {
    std::map<std::string, std::string> env;
    std::string provider, base_url, key;
  };
  const Case cases[] = {
      {{}, "mock", "", ""},
      {{{"OPENAI_API_KEY", "sk-test"}}, "openai", "https://api.openai.com/v1", "sk-test"},
      {{{"OPENAI_BASE_URL", "http://127.0.0.1:9/v1"}}, "openai", "http://127.0.0.1:9/v1", ""},
  };
  for (const auto& c : cases) {
    std::vector<ProviderSettings> chosen;
    auto result = LoadFlowFromString(flow, "f.yaml", registry,
                                     testing::FakeEnvironment(std::make_shared<testing::FakeLlmClient>(), c.env, &chosen));
    ASSERT_TRUE(result.flow) << result.diagnostics.ToString();
    ASSERT_EQ(chosen.size(), 1u);
    EXPECT_EQ(chosen[0].provider, c.provider);
    if (c.provider == "openai") {
      EXPECT_EQ(chosen[0].openai.base_url, c.base_url);
      EXPECT_EQ(chosen[0].openai.api_key, c.key);
    }
    // The start-up description never shows the key.
    EXPECT_EQ(result.flow->steps[0].step->Describe().find("sk-test"), std::string::npos);
  }
}

}  // namespace
}  // namespace flowrun
