// Builds the client a ProviderSettings names.
#include "llm/provider_settings.h"

namespace flowrun {

std::shared_ptr<LlmClient> MakeLlmClient(const ProviderSettings& settings) {
  if (settings.provider == "openai") return MakeOpenAiClient(settings.openai);
  return MakeMockClient(settings.mock);
}

}  // namespace flowrun
