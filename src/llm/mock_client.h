// The offline `mock` provider: deterministic, streams a reply derived from
// the conversation (or the request's scripted `mock_reply`) word by word,
// with an optional per-token delay, and reports usage (words of the messages
// sent, tokens streamed) and finish_reason ("length" when the request's
// max_tokens cut the reply, else "stop") in StreamStats. The
// client is thread-safe (one serves many concurrent runs); MockConfig is a
// plain value.
#pragma once

#include <memory>

#include "llm/llm_client.h"

namespace flowrun {

struct MockConfig {
  int delay_ms = 0;  // pause before each token
};

std::unique_ptr<LlmClient> MakeMockClient(MockConfig config);

}  // namespace flowrun
