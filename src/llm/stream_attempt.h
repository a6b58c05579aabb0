// One HTTP exchange with an OpenAI-compatible upstream: send the request,
// parse the SSE body, hand text deltas to the consumer, and say how it ended
// in enough detail for the retry loop in openai_client.cpp to decide whether
// another attempt is safe and useful. Used by one thread at a time.
#pragma once

#include <optional>
#include <string>

#include "core/cancellation.h"
#include "core/status.h"
#include "llm/curl_handles.h"
#include "llm/llm_client.h"
#include "llm/openai_client.h"

namespace flowrun {

struct AttemptResult {
  Status status;  // may still contain the key: the caller redacts
  StreamFault fault = StreamFault::kNone;
  long http_status = 0;                 // 0 when no response arrived
  bool delivered = false;               // on_delta was called at least once
  bool transient = false;               // the fault is worth retrying
  std::optional<long> retry_after_ms;   // from a Retry-After header
};

// Runs one request for `body` against `url` on `handles`.
AttemptResult RunStreamAttempt(const OpenAiConfig& config, const std::string& display_url,
                               CurlHandles& handles, const std::string& url, const std::string& body,
                               const DeltaCallback& on_delta, const Cancellation& cancel);

}  // namespace flowrun
