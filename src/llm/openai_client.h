// OpenAI-compatible chat-completions client over libcurl (src/llm is the
// only curl user in flowrun; this header shows no curl type). Works with
// OpenAI, Ollama's /v1, vLLM, llama.cpp server. The client is thread-safe:
// each Stream call runs its own transfer.
#pragma once

#include <memory>
#include <string>

#include "llm/llm_client.h"

namespace flowrun {

struct OpenAiConfig {
  std::string base_url = "https://api.openai.com/v1";  // ".../chat/completions" is appended
  std::string api_key;                                  // empty: no Authorization header
  long connect_timeout_ms = 10000;
  // Error if no text arrives this long after an attempt starts (0: off).
  // SSE comments (keep-alives) do not count as text.
  long first_token_timeout_ms = 60000;
  // Error if no byte (headers, data or comment) arrives for this long once
  // the response headers came (0: off).
  long idle_timeout_ms = 30000;
  // Requests per Stream call. Only faults before any text reached the
  // consumer are retried: no HTTP response at all (refused, connect timeout,
  // closed without an answer) and HTTP 429/500/502/503/504.
  int max_attempts = 3;
  // Backoff before retry n is uniform in [0, min(retry_max_ms,
  // retry_initial_ms * 2^(n-1))] ("full jitter"); a Retry-After header
  // replaces it, capped at retry_max_ms.
  long retry_initial_ms = 500;
  long retry_max_ms = 8000;
};

std::unique_ptr<LlmClient> MakeOpenAiClient(OpenAiConfig config);

}  // namespace flowrun
