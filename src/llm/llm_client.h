// LlmClient: the seam between flows and language models. A provider streams
// a chat completion as text deltas. Implementations must be thread-safe:
// one client object serves many concurrent runs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancellation.h"
#include "core/status.h"

namespace flowrun {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  std::optional<double> temperature;
  std::optional<int> max_tokens;
};

// Receives each non-empty text delta in order. Returns false when the
// consumer is gone; the client then stops the transfer and returns.
using DeltaCallback = std::function<bool(std::string_view text)>;

class LlmClient {
 public:
  virtual ~LlmClient() = default;

  // Streams one completion. Returns Ok only when the model finished its
  // answer; a truncated stream, an upstream error or a cancellation is an
  // error Status whose message never contains credentials.
  virtual Status Stream(const ChatRequest& request, const DeltaCallback& on_delta,
                        const Cancellation& cancel) = 0;

  // Human-readable description for start-up logs, e.g.
  // "openai at https://api.openai.com/v1" or "mock (offline)". No secrets.
  virtual std::string Describe() const = 0;
};

}  // namespace flowrun
