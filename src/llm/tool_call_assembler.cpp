// ToolCallAssembler (tool_call_assembler.h).
#include "llm/tool_call_assembler.h"

namespace flowrun {

Status ToolCallAssembler::Add(long long index, std::string_view id, std::string_view name,
                              std::string_view arguments) {
  auto found = calls_.find(index);
  if (found == calls_.end()) {
    if (calls_.size() >= kMaxToolCalls) {
      return Status::ResourceExhausted("upstream sent more than " + std::to_string(kMaxToolCalls) +
                                       " tool calls in one answer (the limit)");
    }
    found = calls_.emplace(index, ToolCall()).first;
  }
  ToolCall& call = found->second;
  if (arguments.size() > kMaxToolArgumentBytes - call.arguments.size()) {
    return Status::ResourceExhausted("upstream sent tool call arguments over the limit of " +
                                     std::to_string(kMaxToolArgumentBytes) + " bytes (tool call " +
                                     std::to_string(index) + ")");
  }
  if (call.id.empty()) call.id = std::string(id);
  if (call.name.empty()) call.name = std::string(name);
  call.arguments.append(arguments);
  return Status::Ok();
}

std::vector<ToolCall> ToolCallAssembler::Calls() const {
  std::vector<ToolCall> calls;
  calls.reserve(calls_.size());
  for (const auto& [index, call] : calls_) {
    calls.push_back(call);
    if (calls.back().id.empty()) calls.back().id = "call_" + std::to_string(index);
  }
  return calls;
}

}  // namespace flowrun
