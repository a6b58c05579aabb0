// provider: auto and the construction of the client it names.
#include "llm/provider_factory.h"

namespace flowrun {
namespace {

constexpr char kDefaultBaseUrl[] = "https://api.openai.com/v1";

std::string EnvOr(const EnvLookup& getenv, const std::string& name) {
  auto value = getenv ? getenv(name) : std::nullopt;
  return value.value_or("");
}

}  // namespace

// provider: auto picks openai when a key or base URL is configured, else mock.
ProviderSettings ChooseProvider(const nlohmann::json& params, const EnvLookup& getenv, std::string* why) {
  const std::string key_env = params.at("api_key_env");
  const std::string key = EnvOr(getenv, key_env);
  const std::string env_base_url = EnvOr(getenv, "OPENAI_BASE_URL");
  std::string provider = params.at("provider");
  if (provider == "auto") {
    bool configured = !key.empty() || !env_base_url.empty() || params.contains("base_url");
    provider = configured ? "openai" : "mock";
    *why = configured ? "" : "; set " + key_env + " or OPENAI_BASE_URL for a real model";
  }
  ProviderSettings settings;
  settings.provider = provider;
  settings.mock.delay_ms = params.at("mock_delay_ms").get<int>();
  if (provider == "openai") {
    settings.openai.base_url = params.contains("base_url") ? params.at("base_url").get<std::string>()
                               : !env_base_url.empty()     ? env_base_url
                                                           : kDefaultBaseUrl;
    settings.openai.api_key = key;
    settings.openai.max_attempts = params.at("max_attempts").get<int>();
    settings.openai.retry_initial_ms = params.at("retry_initial_ms").get<long>();
    settings.openai.retry_max_ms = params.at("retry_max_ms").get<long>();
    settings.openai.first_token_timeout_ms = params.at("first_token_timeout_ms").get<long>();
    settings.openai.idle_timeout_ms = params.at("idle_timeout_ms").get<long>();
    settings.openai.connect_timeout_ms = params.at("connect_timeout_ms").get<long>();
    if (key.empty()) *why = " (no " + key_env + " set: sending no Authorization header)";
  }
  return settings;
}

std::shared_ptr<LlmClient> MakeLlmClient(const ProviderSettings& settings) {
  if (settings.provider == "openai") return MakeOpenAiClient(settings.openai);
  return MakeMockClient(settings.mock);
}

}  // namespace flowrun
