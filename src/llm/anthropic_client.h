// The anthropic provider: Anthropic's Messages API with `stream: true` at
// {base_url}/v1/messages, on the same transport as openai (retries before
// the first output, timeouts, cancellation, flow control; OpenAiConfig holds
// its settings, base_url being the API root without /v1). The key goes in
// `x-api-key`, never in logs or messages; HTTP 529 and an overloaded_error
// event are retried like a 503. Thread-safe like every LlmClient.
#pragma once

#include <memory>

#include "llm/llm_client.h"
#include "llm/openai_client.h"

namespace flowrun {

inline constexpr const char* kAnthropicDefaultBaseUrl = "https://api.anthropic.com";

std::unique_ptr<LlmClient> MakeAnthropicClient(OpenAiConfig config);

}  // namespace flowrun
