// The ollama provider: Ollama's native chat API, NDJSON at
// {base_url}/api/chat, on the same transport as openai (retries before the
// first output, timeouts, cancellation, flow control; OpenAiConfig holds its
// settings). A key, when one is set, goes in a Bearer header (for Ollama
// behind a proxy). Thread-safe like every LlmClient.
#pragma once

#include <memory>

#include "llm/llm_client.h"
#include "llm/openai_client.h"

namespace flowrun {

inline constexpr const char* kOllamaDefaultBaseUrl = "http://localhost:11434";

std::unique_ptr<LlmClient> MakeOllamaClient(OpenAiConfig config);

}  // namespace flowrun
