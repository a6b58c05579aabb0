// The Ollama /api/chat wire format, apart from the transport so it can be
// tested without a socket: the request body (options temperature, top_p,
// num_predict; `format` for output_schema; tools; tool calls with their
// arguments as objects) and the streamed NDJSON lines (OllamaDecoder). The
// body builder is stateless and thread-safe; a decoder belongs to one
// stream attempt.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "llm/llm_client.h"
#include "llm/tool_call_assembler.h"
#include "llm/wire_protocol.h"

namespace flowrun {

std::string BuildOllamaBody(const ChatRequest& request);

// Reads one line: message.content -> text, message.thinking -> reasoning,
// message.tool_calls (whole, their arguments objects turned into JSON text),
// done: true -> the end with done_reason, prompt_eval_count / eval_count
// -> usage, {"error": ...} -> an upstream error. Without a done line the
// answer is truncated.
class OllamaDecoder final : public StreamDecoder {
 public:
  Status Decode(std::string_view event, std::string_view data, DecodedMessage* out) override;
  DecodedAnswer Answer() const override;

 private:
  ToolCallAssembler tools_;
  long long next_call_ = 0;  // calls arrive whole; each gets the next index
  bool done_ = false;
  std::string finish_reason_;
  long long prompt_tokens_ = 0;
  long long completion_tokens_ = 0;
};

}  // namespace flowrun
