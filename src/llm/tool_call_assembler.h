// ToolCallAssembler: puts streamed tool calls back together. Providers send
// a call in fragments keyed by an index (OpenAI's delta.tool_calls[i].index,
// Anthropic's content-block index; Ollama's arrive whole): the id and name
// come from the first fragment that has them, the arguments are the
// fragments' text joined in arrival order, per index. Fragments of different
// indexes may interleave and are never merged (LiteLLM #7621). Bounded: at
// most kMaxToolCalls calls and kMaxToolArgumentBytes of arguments each.
// Thread-compatible: one per stream attempt.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "llm/llm_client.h"

namespace flowrun {

class ToolCallAssembler {
 public:
  static constexpr std::size_t kMaxToolCalls = 64;
  static constexpr std::size_t kMaxToolArgumentBytes = std::size_t{1} << 20;

  // Adds one fragment of call `index`; empty id/name leave what is known.
  // An error (kResourceExhausted, naming the limit) when a bound is passed;
  // the assembler then keeps what it had.
  Status Add(long long index, std::string_view id, std::string_view name, std::string_view arguments);

  bool empty() const { return calls_.empty(); }
  // The calls so far in index order; a call without an id gets "call_<index>".
  std::vector<ToolCall> Calls() const;

 private:
  std::map<long long, ToolCall> calls_;
};

}  // namespace flowrun
