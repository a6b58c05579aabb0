// ProviderSettings: which model provider a step talks to, and how. Chosen
// when a flow loads; MakeLlmClient turns it into a client.
#pragma once

#include <memory>
#include <string>

#include "llm/llm_client.h"
#include "llm/mock_client.h"
#include "llm/openai_client.h"

namespace flowrun {

struct ProviderSettings {
  std::string provider;  // "openai" or "mock"
  OpenAiConfig openai;
  MockConfig mock;
};

std::shared_ptr<LlmClient> MakeLlmClient(const ProviderSettings& settings);

}  // namespace flowrun
