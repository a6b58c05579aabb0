// OpenAI-compatible chat-completions client over libcurl (the only curl
// user in flowrun). Works with OpenAI, Ollama's /v1, vLLM, llama.cpp server.
// The client is thread-safe: each Stream call runs its own transfer.
#pragma once

#include <memory>
#include <string>

#include "llm/llm_client.h"

namespace flowrun {

struct OpenAiConfig {
  std::string base_url = "https://api.openai.com/v1";  // ".../chat/completions" is appended
  std::string api_key;                                  // empty: no Authorization header
  long connect_timeout_ms = 10000;
  // Error if no text arrives this long after the request starts (0: off).
  long first_token_timeout_ms = 0;
  // Error if the body goes silent this long once it has started (0: off).
  long idle_timeout_ms = 0;
};

std::unique_ptr<LlmClient> MakeOpenAiClient(OpenAiConfig config);

}  // namespace flowrun
