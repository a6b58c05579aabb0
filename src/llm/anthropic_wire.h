// The Anthropic Messages API wire format, apart from the transport so it
// can be tested without a socket: the request body (system messages moved to
// the top-level `system`, tool calls as tool_use blocks, tool results as
// tool_result blocks, output_schema as a forced tool), the streamed events
// (AnthropicDecoder) and error bodies. The body builder is stateless and
// thread-safe; a decoder belongs to one stream attempt.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/status.h"
#include "llm/llm_client.h"
#include "llm/tool_call_assembler.h"
#include "llm/wire_protocol.h"

namespace flowrun {

// Anthropic requires max_tokens; this is sent when the step sets none.
inline constexpr int kAnthropicDefaultMaxTokens = 1024;
inline constexpr const char* kAnthropicVersion = "2023-06-01";

// The JSON body of a streaming POST /v1/messages.
std::string BuildAnthropicBody(const ChatRequest& request);

// "overloaded_error: Overloaded" from {"type":"error","error":{"type",
// "message"}}; other bodies as UpstreamErrorMessage reads them.
std::string AnthropicErrorMessage(std::string_view body);

// Reads one Messages stream: message_start (input tokens), content blocks
// (text -> text, thinking -> reasoning, tool_use -> a tool call, or with
// output_schema the forced tool's input -> text), message_delta (stop
// reason, cumulative output tokens: the last counts), message_stop (the
// end: without it the answer is truncated) and error events (an
// overloaded_error is retryable). ping and unknown events are ignored.
class AnthropicDecoder final : public StreamDecoder {
 public:
  explicit AnthropicDecoder(const ChatRequest& request);
  Status Decode(std::string_view event, std::string_view data, DecodedMessage* out) override;
  DecodedAnswer Answer() const override;

 private:
  enum class Block { kText, kThinking, kToolUse, kOutput, kOther };

  std::string output_tool_;  // the forced tool of output_schema, empty when none
  std::map<long long, Block> blocks_;
  ToolCallAssembler tools_;
  bool stopped_ = false;  // message_stop arrived
  std::string finish_reason_;
  long long prompt_tokens_ = 0;
  long long completion_tokens_ = 0;
};

}  // namespace flowrun
