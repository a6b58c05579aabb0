// provider: auto and the construction of the client it names. The HTTP
// providers (openai, anthropic, ollama) share one transport, so
// ProviderSettings::openai holds the transport settings of whichever of
// them was chosen, its base_url that provider's root.
#include "llm/provider_factory.h"

#include "llm/anthropic_client.h"
#include "llm/ollama_client.h"

namespace flowrun {
namespace {

constexpr char kDefaultBaseUrl[] = "https://api.openai.com/v1";
constexpr char kOllamaDefaultPort[] = ":11434";

std::string EnvOr(const EnvLookup& getenv, const std::string& name) {
  auto value = getenv ? getenv(name) : std::nullopt;
  return value.value_or("");
}

// Where each HTTP provider looks by default.
struct HttpProvider {
  const char* name;
  const char* key_env;       // api_key_env when the step gives none
  const char* base_url_env;  // read when the step gives no base_url
  const char* base_url;      // else this
  const char* key_header;    // for the start-up note; null: a key is optional
};

constexpr HttpProvider kHttpProviders[] = {
    {"openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", kDefaultBaseUrl, "Authorization"},
    {"anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", kAnthropicDefaultBaseUrl, "x-api-key"},
    {"ollama", "OLLAMA_API_KEY", "OLLAMA_BASE_URL", kOllamaDefaultBaseUrl, nullptr},
};

const HttpProvider* FindHttpProvider(const std::string& name) {
  for (const HttpProvider& provider : kHttpProviders) {
    if (name == provider.name) return &provider;
  }
  return nullptr;
}

// OLLAMA_HOST as Ollama's own CLI reads it: "host", "host:port" or a URL;
// plain http gets port 11434 when it names none.
std::string OllamaHostUrl(std::string host) {
  if (host.empty()) return host;
  const std::size_t scheme = host.find("://");
  if (scheme == std::string::npos) host = "http://" + host;
  const std::size_t authority = host.find("://") + 3;
  const std::size_t path = host.find('/', authority);
  const std::string hostport = host.substr(authority, path == std::string::npos ? std::string::npos : path - authority);
  // Ollama's default port, except for https (443).
  const bool https = host.rfind("https://", 0) == 0;
  if (!https && !hostport.empty() && (hostport.find(':') == std::string::npos || hostport.back() == ']')) {
    host.insert(path == std::string::npos ? host.size() : path, kOllamaDefaultPort);
  }
  return host;
}

std::string BaseUrlFor(const HttpProvider& provider, const nlohmann::json& params, const EnvLookup& getenv) {
  if (params.contains("base_url")) return params.at("base_url").get<std::string>();
  if (std::string from_env = EnvOr(getenv, provider.base_url_env); !from_env.empty()) return from_env;
  if (std::string(provider.name) == "ollama") {
    if (std::string host = OllamaHostUrl(EnvOr(getenv, "OLLAMA_HOST")); !host.empty()) return host;
  }
  return provider.base_url;
}

// Under auto, when openai is not configured: a native provider the step's
// `models` names, when the environment configures it ("" when none).
std::string NativeByEnvironment(const nlohmann::json& params, const EnvLookup& getenv) {
  auto models = params.find("models");
  if (models == params.end() || !models->is_object()) return "";
  if (models->contains("anthropic") && !EnvOr(getenv, "ANTHROPIC_API_KEY").empty()) return "anthropic";
  if (models->contains("ollama") &&
      (!EnvOr(getenv, "OLLAMA_HOST").empty() || !EnvOr(getenv, "OLLAMA_BASE_URL").empty())) {
    return "ollama";
  }
  return "";
}

}  // namespace

// provider: auto picks openai when a key or base URL is configured, then a
// native provider the step's `models` names and the environment
// configures, else mock.
ProviderSettings ChooseProvider(const nlohmann::json& params, const EnvLookup& getenv, std::string* why) {
  why->clear();
  std::string provider = params.at("provider");
  if (provider == "auto" && !params.contains("api_key_env") && !params.contains("base_url") &&
      EnvOr(getenv, "OPENAI_API_KEY").empty() && EnvOr(getenv, "OPENAI_BASE_URL").empty()) {
    if (std::string native = NativeByEnvironment(params, getenv); !native.empty()) provider = native;
  }
  // auto (and mock) look for openai's key.
  const HttpProvider* http = FindHttpProvider(provider);
  if (http == nullptr) http = &kHttpProviders[0];
  const std::string key_env =
      params.contains("api_key_env") ? params.at("api_key_env").get<std::string>() : http->key_env;
  const std::string key = EnvOr(getenv, key_env);
  if (provider == "auto") {
    bool configured = !key.empty() || !EnvOr(getenv, "OPENAI_BASE_URL").empty() || params.contains("base_url");
    provider = configured ? "openai" : "mock";
    *why = configured ? "" : "; set " + key_env + " or OPENAI_BASE_URL for a real model";
  }
  ProviderSettings settings;
  settings.provider = provider;
  settings.mock.delay_ms = params.at("mock_delay_ms").get<int>();
  if (provider == "mock") return settings;
  settings.openai.base_url = BaseUrlFor(*http, params, getenv);
  settings.openai.api_key = key;
  settings.openai.max_attempts = params.at("max_attempts").get<int>();
  settings.openai.retry_initial_ms = params.at("retry_initial_ms").get<long>();
  settings.openai.retry_max_ms = params.at("retry_max_ms").get<long>();
  settings.openai.first_token_timeout_ms = params.at("first_token_timeout_ms").get<long>();
  settings.openai.idle_timeout_ms = params.at("idle_timeout_ms").get<long>();
  settings.openai.connect_timeout_ms = params.at("connect_timeout_ms").get<long>();
  if (key.empty() && http->key_header != nullptr) {
    *why = " (no " + key_env + " set: sending no " + http->key_header + " header)";
  }
  return settings;
}

std::shared_ptr<LlmClient> MakeLlmClient(const ProviderSettings& settings) {
  if (settings.provider == "openai") return MakeOpenAiClient(settings.openai);
  if (settings.provider == "anthropic") return MakeAnthropicClient(settings.openai);
  if (settings.provider == "ollama") return MakeOllamaClient(settings.openai);
  return MakeMockClient(settings.mock);
}

}  // namespace flowrun
