// WireProtocol: what differs between the HTTP model providers (openai,
// anthropic, ollama) — the URL, headers and body of a request, how the
// streamed body is framed (SSE or NDJSON) and what each message means —
// so that one transport (StreamAttempt on the curl driver, with retries,
// timeouts, cancellation and flow control; protocol_client.h) serves all
// of them. A WireProtocol is stateless and thread-safe; a StreamDecoder
// holds one attempt's state and is used from one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "llm/llm_client.h"

namespace flowrun {

// What one streamed message said that the consumer sees at once.
struct DecodedMessage {
  std::string text;       // a reply text delta, empty when none
  std::string reasoning;  // a reasoning delta, empty when none
  bool progress = false;  // something else arrived that shows the model at work (a tool-call fragment)
  bool end = false;       // the stream's end marker ([DONE], message_stop, done: true)
  // With an error Status from Decode: the fault is worth retrying (when no
  // output was handed on yet), e.g. Anthropic's overloaded_error.
  bool retryable = false;
  StreamFault fault = StreamFault::kUpstreamError;  // with an error Status: its kind
};

// How an attempt's answer ended, as far as the stream told.
struct DecodedAnswer {
  bool finished = false;      // the answer is complete: the attempt may end Ok
  std::string finish_reason;  // mapped to OpenAI's words: stop, length, tool_calls, ...
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  std::vector<ToolCall> tool_calls;
  std::string refusal;
};

class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // One message: for SSE its event name (empty for the default) and data;
  // for NDJSON an empty event and one line. An error ends the attempt.
  virtual Status Decode(std::string_view event, std::string_view data, DecodedMessage* out) = 0;
  virtual DecodedAnswer Answer() const = 0;
};

class WireProtocol {
 public:
  enum class Framing { kSse, kNdjson };

  virtual ~WireProtocol() = default;
  // "openai", "anthropic", "ollama": for Describe().
  virtual std::string name() const = 0;
  // The endpoint under `base_url` (which has no trailing '/').
  virtual std::string Url(const std::string& base_url) const = 0;
  // Request header lines besides Content-Type; the key may be empty.
  virtual std::vector<std::string> Headers(const std::string& api_key) const = 0;
  virtual std::string BuildBody(const ChatRequest& request) const = 0;
  virtual Framing framing() const = 0;
  virtual std::unique_ptr<StreamDecoder> NewDecoder(const ChatRequest& request) const = 0;
  // A short message from a non-2xx (or unstreamed) body; empty when none.
  virtual std::string ErrorMessage(std::string_view body) const = 0;
  // Whether a 2xx response of this Content-Type is one JSON document (the
  // server ignored "stream": true) rather than a stream.
  virtual bool IsUnstreamed(std::string_view content_type) const {
    return content_type.find("json") != std::string_view::npos;
  }
  // An unstreamed 2xx body that carries an error: its message, else nullopt.
  virtual std::optional<std::string> ErrorInUnstreamedBody(std::string_view body) const = 0;
  // HTTP statuses worth another attempt (429, 5xx; Anthropic adds 529).
  virtual bool IsRetryableStatus(long status) const;
};

}  // namespace flowrun
