// Helpers for the OpenAI chat-completions wire format, kept apart from the
// transport so they can be tested without a socket: the request body, one
// streamed `data:` payload, error bodies, and scrubbing secrets out of
// messages. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "llm/llm_client.h"
#include "llm/wire_protocol.h"

namespace flowrun {

// One fragment of a streamed tool call (delta.tool_calls[i]).
struct OpenAiToolFragment {
  long long index = 0;    // its "index", else its position in the array
  std::string id;         // empty when absent
  std::string name;       // function.name, empty when absent
  std::string arguments;  // function.arguments, empty when absent
};

// What one `data:` payload of a chat.completion.chunk stream says.
struct OpenAiChunk {
  bool done = false;          // the "[DONE]" sentinel
  std::string content;        // choices[0].delta.content, empty when absent/null
  bool finished = false;      // choices[0].finish_reason was non-null
  std::string finish_reason;  // choices[0].finish_reason when a string ("stop", "length", ...)
  // A non-null root "usage" (with stream_options.include_usage, the last
  // chunk before [DONE]): its prompt_tokens and completion_tokens, each 0
  // when absent or not a non-negative integer.
  bool has_usage = false;
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  // choices[0].delta.reasoning_content (DeepSeek, vLLM), else .reasoning
  // (OpenRouter, Ollama's /v1), when a string.
  std::string reasoning;
  std::string refusal;  // choices[0].delta.refusal when a string
  std::vector<OpenAiToolFragment> tool_calls;
};

// The JSON body of a streaming chat-completions request. It asks for token
// usage (stream_options.include_usage) in a last chunk, and carries tools
// (`{type: function, function: {...}}`), assistant tool_calls, tool
// messages' tool_call_id and, for output_schema, response_format
// `{type: json_schema, json_schema: {name, schema, strict: true}}`.
std::string BuildChatRequestBody(const ChatRequest& request);

// Parses one data payload into `chunk`. An error Status when the payload is
// not JSON or carries an upstream "error" object.
Status ParseOpenAiChunk(std::string_view data, OpenAiChunk* chunk);

// A decoder for one attempt's chat.completion.chunk stream (SSE events):
// text, reasoning_content / reasoning, refusal, tool-call fragments
// assembled by index, finish_reason and the last usage; [DONE] is the end,
// and an `error` event or an "error" object an upstream error.
std::unique_ptr<StreamDecoder> MakeOpenAiDecoder();

// A short, person-readable message from a non-2xx response body: the
// "error.message" (or "error" string, or "detail") of a JSON body, otherwise
// the start of the text. Empty for an empty body.
std::string UpstreamErrorMessage(std::string_view body);

// At most `max_bytes` of `text`, cut on a UTF-8 boundary, with control
// characters turned into spaces so a message stays on one line.
std::string Abbreviate(std::string_view text, std::size_t max_bytes);

// `text` with every occurrence of `secret` replaced by "[redacted]".
std::string RedactSecret(std::string text, std::string_view secret);

// `url` without any "user:password@" part, for logs and messages.
std::string UrlForDisplay(std::string_view url);

}  // namespace flowrun
