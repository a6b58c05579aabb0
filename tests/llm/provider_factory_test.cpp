// ChooseProvider and MakeLlmClient on their own, without a step or a flow:
// provider: auto against the environment, where the base URL and key come
// from, and the start-up note.
#include "llm/provider_factory.h"

#include <map>

#include <gtest/gtest.h>

namespace flowrun {
namespace {

// llm-stream's provider parameters with their defaults.
nlohmann::json Params(nlohmann::json overrides = nlohmann::json::object()) {
  nlohmann::json params = {{"provider", "auto"},          {"api_key_env", "OPENAI_API_KEY"},
                           {"max_attempts", 3},           {"retry_initial_ms", 500},
                           {"retry_max_ms", 8000},        {"first_token_timeout_ms", 60000},
                           {"idle_timeout_ms", 30000},    {"connect_timeout_ms", 10000},
                           {"mock_delay_ms", 0}};
  params.update(overrides);
  return params;
}

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

TEST(ProviderFactory, AutoWithNothingConfiguredIsMockAndSaysHowToGetAModel) {
  std::string why;
  ProviderSettings settings = ChooseProvider(Params({{"mock_delay_ms", 7}}), Env({}), &why);
  EXPECT_EQ(settings.provider, "mock");
  EXPECT_EQ(settings.mock.delay_ms, 7);
  EXPECT_EQ(why, "; set OPENAI_API_KEY or OPENAI_BASE_URL for a real model");
  // A missing lookup reads as an empty environment.
  settings = ChooseProvider(Params(), EnvLookup(), &why);
  EXPECT_EQ(settings.provider, "mock");
}

TEST(ProviderFactory, BaseUrlFromTheStepThenTheEnvironmentThenOpenAi) {
  std::string why;
  ProviderSettings settings =
      ChooseProvider(Params({{"base_url", "http://127.0.0.1:9/v1"}}),
                     Env({{"OPENAI_BASE_URL", "http://127.0.0.1:8/v1"}, {"OPENAI_API_KEY", "sk-test"}}), &why);
  EXPECT_EQ(settings.provider, "openai");
  EXPECT_EQ(settings.openai.base_url, "http://127.0.0.1:9/v1");
  EXPECT_EQ(settings.openai.api_key, "sk-test");
  EXPECT_EQ(why, "");

  settings = ChooseProvider(Params(), Env({{"OPENAI_BASE_URL", "http://127.0.0.1:8/v1"}}), &why);
  EXPECT_EQ(settings.openai.base_url, "http://127.0.0.1:8/v1");
  EXPECT_EQ(why, " (no OPENAI_API_KEY set: sending no Authorization header)");

  settings = ChooseProvider(Params({{"api_key_env", "MY_KEY"}, {"max_attempts", 5}, {"connect_timeout_ms", 250}}),
                            Env({{"MY_KEY", "sk-mine"}}), &why);
  EXPECT_EQ(settings.provider, "openai");
  EXPECT_EQ(settings.openai.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(settings.openai.api_key, "sk-mine");
  EXPECT_EQ(settings.openai.max_attempts, 5);
  EXPECT_EQ(settings.openai.connect_timeout_ms, 250);
  EXPECT_EQ(why.find("sk-mine"), std::string::npos);
}

TEST(ProviderFactory, ExplicitProviderIsKeptWhateverTheEnvironment) {
  std::string why;
  EXPECT_EQ(ChooseProvider(Params({{"provider", "mock"}}), Env({{"OPENAI_API_KEY", "sk-test"}}), &why).provider,
            "mock");
  EXPECT_EQ(why, "");
  ProviderSettings settings = ChooseProvider(Params({{"provider", "openai"}}), Env({}), &why);
  EXPECT_EQ(settings.provider, "openai");
  EXPECT_EQ(settings.openai.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(why, " (no OPENAI_API_KEY set: sending no Authorization header)");
}

TEST(ProviderFactory, MakesTheClientTheSettingsName) {
  ProviderSettings settings;
  settings.provider = "mock";
  EXPECT_EQ(MakeLlmClient(settings)->Describe().rfind("mock", 0), 0u) << MakeLlmClient(settings)->Describe();
  settings.provider = "openai";
  settings.openai.base_url = "http://127.0.0.1:9/v1";
  EXPECT_EQ(MakeLlmClient(settings)->Describe(), "openai at http://127.0.0.1:9/v1");
}

// Params() without api_key_env, as a step that does not set it.
nlohmann::json NativeParams(const std::string& provider) {
  nlohmann::json params = Params({{"provider", provider}});
  params.erase("api_key_env");
  return params;
}

TEST(ProviderFactory, AnthropicReadsItsOwnKeyAndBaseUrl) {
  std::string why;
  ProviderSettings settings = ChooseProvider(NativeParams("anthropic"), Env({{"OPENAI_API_KEY", "sk-openai"}}), &why);
  EXPECT_EQ(settings.provider, "anthropic");
  EXPECT_EQ(settings.openai.base_url, "https://api.anthropic.com");
  EXPECT_EQ(settings.openai.api_key, "");
  EXPECT_EQ(why, " (no ANTHROPIC_API_KEY set: sending no x-api-key header)");

  settings = ChooseProvider(NativeParams("anthropic"),
                            Env({{"ANTHROPIC_API_KEY", "sk-ant-1"}, {"ANTHROPIC_BASE_URL", "http://127.0.0.1:7"}}), &why);
  EXPECT_EQ(settings.openai.base_url, "http://127.0.0.1:7");
  EXPECT_EQ(settings.openai.api_key, "sk-ant-1");
  EXPECT_EQ(why, "");

  nlohmann::json own = NativeParams("anthropic");
  own["api_key_env"] = "CLAUDE_KEY";
  own["max_attempts"] = 4;
  settings = ChooseProvider(own, Env({{"ANTHROPIC_API_KEY", "sk-ant-1"}, {"CLAUDE_KEY", "sk-ant-2"}}), &why);
  EXPECT_EQ(settings.openai.api_key, "sk-ant-2");
  EXPECT_EQ(settings.openai.max_attempts, 4);
}

TEST(ProviderFactory, OllamaNeedsNoKeyAndReadsOllamaHostToo) {
  std::string why;
  ProviderSettings settings = ChooseProvider(NativeParams("ollama"), Env({}), &why);
  EXPECT_EQ(settings.provider, "ollama");
  EXPECT_EQ(settings.openai.base_url, "http://localhost:11434");
  EXPECT_EQ(why, "");
  EXPECT_EQ(ChooseProvider(NativeParams("ollama"), Env({{"OLLAMA_HOST", "10.0.0.5"}}), &why).openai.base_url,
            "http://10.0.0.5:11434");
  EXPECT_EQ(ChooseProvider(NativeParams("ollama"), Env({{"OLLAMA_HOST", "gpu-box:8080"}}), &why).openai.base_url,
            "http://gpu-box:8080");
  EXPECT_EQ(ChooseProvider(NativeParams("ollama"), Env({{"OLLAMA_HOST", "https://ollama.example.com"}}), &why)
                .openai.base_url,
            "https://ollama.example.com");
  EXPECT_EQ(ChooseProvider(NativeParams("ollama"),
                           Env({{"OLLAMA_HOST", "10.0.0.5"}, {"OLLAMA_BASE_URL", "http://127.0.0.1:9"}}), &why)
                .openai.base_url,
            "http://127.0.0.1:9");
  nlohmann::json own = NativeParams("ollama");
  own["base_url"] = "http://127.0.0.1:8";
  EXPECT_EQ(ChooseProvider(own, Env({{"OLLAMA_BASE_URL", "http://127.0.0.1:9"}}), &why).openai.base_url,
            "http://127.0.0.1:8");
}

TEST(ProviderFactory, AutoStillMeansOpenAiOrMockWithoutApiKeyEnv) {
  std::string why;
  nlohmann::json params = NativeParams("auto");
  EXPECT_EQ(ChooseProvider(params, Env({{"ANTHROPIC_API_KEY", "sk-ant"}}), &why).provider, "mock");
  EXPECT_EQ(why, "; set OPENAI_API_KEY or OPENAI_BASE_URL for a real model");
  EXPECT_EQ(ChooseProvider(params, Env({{"OPENAI_API_KEY", "sk"}}), &why).provider, "openai");
}

TEST(ProviderFactory, MakesTheNativeClientsAndDescribesThemWithoutSecrets) {
  ProviderSettings settings;
  settings.provider = "anthropic";
  settings.openai.base_url = "https://api.anthropic.com";
  settings.openai.api_key = "sk-ant-secret";
  EXPECT_EQ(MakeLlmClient(settings)->Describe(), "anthropic at https://api.anthropic.com");
  settings.provider = "ollama";
  settings.openai.base_url = "http://localhost:11434/";
  EXPECT_EQ(MakeLlmClient(settings)->Describe(), "ollama at http://localhost:11434");
}

}  // namespace
}  // namespace flowrun
