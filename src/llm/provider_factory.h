// Choosing and building a step's model provider: `provider: auto` resolved
// against the environment (a key or base URL configured means openai, else
// mock), the base URL and key picked from the step's parameters and the
// environment, and the client built from the result. The step types in
// steps/ call these; nothing here knows about steps. Pure functions apart
// from what `getenv` reads; thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "llm/llm_client.h"
#include "llm/provider_settings.h"

namespace flowrun {

// Reads one environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// `params` are llm-stream's provider parameters, already type-checked and
// with their defaults filled in: provider (auto|openai|anthropic|ollama|
// mock), base_url and models (optional), api_key_env, max_attempts,
// retry_initial_ms, retry_max_ms, first_token_timeout_ms, idle_timeout_ms,
// connect_timeout_ms, mock_delay_ms. Under auto, openai when it is
// configured, then anthropic / ollama when `models` names them and their
// environment is set (ANTHROPIC_API_KEY; OLLAMA_HOST or OLLAMA_BASE_URL).
// `*why` gets a note for the start-up log: empty, "; set OPENAI_API_KEY or
// OPENAI_BASE_URL for a real model" (auto chose mock) or " (no
// OPENAI_API_KEY set: sending no Authorization header)". The key is read
// from the environment only and never appears in `*why`.
ProviderSettings ChooseProvider(const nlohmann::json& params, const EnvLookup& getenv, std::string* why);

// The client `settings` names: openai or mock.
std::shared_ptr<LlmClient> MakeLlmClient(const ProviderSettings& settings);

}  // namespace flowrun
