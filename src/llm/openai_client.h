// OpenAI-compatible chat-completions client over libcurl (the only curl
// user in flowrun). Works with OpenAI, Ollama's /v1, vLLM, llama.cpp server.
#pragma once

#include <memory>
#include <string>

#include "llm/llm_client.h"

namespace flowrun {

struct OpenAiConfig {
  std::string base_url = "https://api.openai.com/v1";  // ".../chat/completions" is appended
  std::string api_key;                                  // empty: no Authorization header
  long connect_timeout_ms = 10000;
};

std::unique_ptr<LlmClient> MakeOpenAiClient(OpenAiConfig config);

}  // namespace flowrun
