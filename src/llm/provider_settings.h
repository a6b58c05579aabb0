// ProviderSettings: which model provider a step talks to, and how. Chosen
// when a flow loads (ChooseProvider, provider_factory.h), which also turns
// it into a client (MakeLlmClient). A plain value; thread-compatible.
#pragma once

#include <string>

#include "llm/llm_client.h"
#include "llm/mock_client.h"
#include "llm/openai_client.h"

namespace flowrun {

struct ProviderSettings {
  std::string provider;  // "openai", "anthropic", "ollama" or "mock"
  OpenAiConfig openai;
  MockConfig mock;
};

}  // namespace flowrun
