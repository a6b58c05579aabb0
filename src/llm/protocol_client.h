// MakeProtocolClient: the LlmClient of every HTTP model provider, built on
// a WireProtocol (wire_protocol.h): attempts on the run loop's curl driver,
// retries before the first output, timeouts, cancellation and flow control
// are the same for openai, anthropic and ollama. Thread-safe like every
// LlmClient. Internal to llm/; the providers' headers name their factories.
#pragma once

#include <memory>

#include "llm/llm_client.h"
#include "llm/openai_client.h"
#include "llm/wire_protocol.h"

namespace flowrun {

// `config` holds the transport settings (its base_url the provider's root).
std::unique_ptr<LlmClient> MakeProtocolClient(std::shared_ptr<const WireProtocol> protocol, OpenAiConfig config);

}  // namespace flowrun
