// Anthropic wire format (anthropic_wire.h). Parsing never throws: a
// malformed upstream is an expected failure reported through Status.
#include "llm/anthropic_wire.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "llm/openai_wire.h"

namespace flowrun {
namespace {

using nlohmann::json;

constexpr json::number_unsigned_t kMaxTokenCount = 1ULL << 53;

std::string StringAt(const json& object, const char* key) {
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

const json& ObjectAt(const json& object, const char* key) {
  static const json kEmpty = json::object();
  auto found = object.find(key);
  return found != object.end() && found->is_object() ? *found : kEmpty;
}

// A token count, when `object` has `key` as a non-negative integer.
bool ReadCount(const json& object, const char* key, long long* count) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_number_unsigned()) return false;
  *count = static_cast<long long>(std::min(found->get<json::number_unsigned_t>(), kMaxTokenCount));
  return true;
}

// Anthropic's stop reasons in OpenAI's words (what StreamStats reports).
std::string MapStopReason(const std::string& reason) {
  if (reason == "end_turn" || reason == "stop_sequence") return "stop";
  if (reason == "max_tokens") return "length";
  if (reason == "tool_use") return "tool_calls";
  return reason;
}

// A tool call's arguments as the input object Anthropic wants back.
json ToolInput(const std::string& arguments) {
  json input = json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  return input.is_object() ? input : json::object();
}

json AssistantContent(const ChatMessage& message) {
  if (message.tool_calls.empty()) return message.content;
  json blocks = json::array();
  if (!message.content.empty()) blocks.push_back({{"type", "text"}, {"text", message.content}});
  for (const ToolCall& call : message.tool_calls) {
    blocks.push_back({{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", ToolInput(call.arguments)}});
  }
  return blocks;
}

}  // namespace

std::string BuildAnthropicBody(const ChatRequest& request) {
  std::string system;
  json messages = json::array();
  for (const ChatMessage& message : request.messages) {
    if (message.role == "system") {
      if (!system.empty()) system += "\n\n";
      system += message.content;
    } else if (message.role == "tool") {
      // Results go back in a user turn; consecutive ones share it.
      json result = {{"type", "tool_result"}, {"tool_use_id", message.tool_call_id}, {"content", message.content}};
      if (!messages.empty() && messages.back()["role"] == "user" && messages.back()["content"].is_array() &&
          !messages.back()["content"].empty() && messages.back()["content"].back().value("type", "") == "tool_result") {
        messages.back()["content"].push_back(std::move(result));
      } else {
        messages.push_back({{"role", "user"}, {"content", json::array({std::move(result)})}});
      }
    } else if (message.role == "assistant") {
      messages.push_back({{"role", "assistant"}, {"content", AssistantContent(message)}});
    } else {
      messages.push_back({{"role", message.role}, {"content", message.content}});
    }
  }
  json body = {{"model", request.model},
               {"max_tokens", request.max_tokens.value_or(kAnthropicDefaultMaxTokens)},
               {"messages", std::move(messages)},
               {"stream", true}};
  if (!system.empty()) body["system"] = system;
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  json tools = json::array();
  for (const ToolSpec& tool : request.tools) {
    tools.push_back({{"name", tool.name}, {"description", tool.description}, {"input_schema", tool.parameters}});
  }
  if (request.output_schema) {
    tools.push_back({{"name", request.output_schema_name},
                     {"description", "Answer with JSON that follows this schema."},
                     {"input_schema", *request.output_schema}});
    body["tool_choice"] = {{"type", "tool"}, {"name", request.output_schema_name}};
  }
  if (!tools.empty()) body["tools"] = std::move(tools);
  return DumpJson(body);
}

std::string AnthropicErrorMessage(std::string_view body) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    const json& error = ObjectAt(parsed, "error");
    const std::string type = StringAt(error, "type");
    const std::string message = StringAt(error, "message");
    if (!type.empty() && !message.empty()) return Abbreviate(type + ": " + message, 500);
  }
  return UpstreamErrorMessage(body);
}

AnthropicDecoder::AnthropicDecoder(const ChatRequest& request) {
  if (request.output_schema) output_tool_ = request.output_schema_name;
}

Status AnthropicDecoder::Decode(std::string_view event, std::string_view data, DecodedMessage* out) {
  const json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    out->fault = StreamFault::kMalformed;
    return Status::Malformed("upstream sent a data line that is not JSON: " + Abbreviate(data, 80));
  }
  std::string type = StringAt(parsed, "type");
  if (type.empty()) type = std::string(event);
  if (type == "error") {
    const json& error = ObjectAt(parsed, "error");
    out->retryable = StringAt(error, "type") == "overloaded_error";
    return Status::UpstreamError("upstream error: " + AnthropicErrorMessage(data));
  }
  auto index_of = [&parsed] {
    auto found = parsed.find("index");
    return found != parsed.end() && found->is_number_integer() ? found->get<long long>() : 0LL;
  };
  if (type == "message_start") {
    const json& usage = ObjectAt(ObjectAt(parsed, "message"), "usage");
    ReadCount(usage, "input_tokens", &prompt_tokens_);
    ReadCount(usage, "output_tokens", &completion_tokens_);
  } else if (type == "content_block_start") {
    const long long index = index_of();
    const json& block = ObjectAt(parsed, "content_block");
    const std::string kind = StringAt(block, "type");
    if (kind == "text") {
      blocks_[index] = Block::kText;
      out->text = StringAt(block, "text");
    } else if (kind == "thinking") {
      blocks_[index] = Block::kThinking;
      out->reasoning = StringAt(block, "thinking");
    } else if (kind == "tool_use") {
      const std::string name = StringAt(block, "name");
      out->progress = true;
      if (!output_tool_.empty() && name == output_tool_) {
        blocks_[index] = Block::kOutput;
      } else {
        blocks_[index] = Block::kToolUse;
        if (Status added = tools_.Add(index, StringAt(block, "id"), name, ""); !added.ok()) {
          out->fault = StreamFault::kMalformed;
          return added;
        }
      }
    } else {
      blocks_[index] = Block::kOther;
    }
  } else if (type == "content_block_delta") {
    const long long index = index_of();
    const json& delta = ObjectAt(parsed, "delta");
    const std::string kind = StringAt(delta, "type");
    auto block = blocks_.find(index);
    const Block where = block == blocks_.end() ? Block::kOther : block->second;
    if (kind == "text_delta") {
      out->text = StringAt(delta, "text");
    } else if (kind == "thinking_delta") {
      out->reasoning = StringAt(delta, "thinking");
    } else if (kind == "input_json_delta") {
      const std::string partial = StringAt(delta, "partial_json");
      out->progress = true;
      if (where == Block::kOutput) {
        out->text = partial;
      } else if (Status added = tools_.Add(index, "", "", partial); !added.ok()) {
        out->fault = StreamFault::kMalformed;
        return added;
      }
    }
  } else if (type == "message_delta") {
    out->progress = true;
    const std::string reason = StringAt(ObjectAt(parsed, "delta"), "stop_reason");
    if (!reason.empty()) {
      finish_reason_ = MapStopReason(reason);
      // The forced tool of output_schema is the answer, not a call.
      if (!output_tool_.empty() && finish_reason_ == "tool_calls" && tools_.empty()) finish_reason_ = "stop";
    }
    const json& usage = ObjectAt(parsed, "usage");
    ReadCount(usage, "output_tokens", &completion_tokens_);  // cumulative: the last counts
    ReadCount(usage, "input_tokens", &prompt_tokens_);
  } else if (type == "message_stop") {
    stopped_ = true;
    out->progress = true;
    out->end = true;
  }
  // ping, content_block_stop and event types added later: nothing to do.
  return Status::Ok();
}

DecodedAnswer AnthropicDecoder::Answer() const {
  DecodedAnswer answer;
  answer.finished = stopped_;
  answer.finish_reason = finish_reason_;
  answer.prompt_tokens = prompt_tokens_;
  answer.completion_tokens = completion_tokens_;
  answer.tool_calls = tools_.Calls();
  // A tool that takes nothing streams no input_json_delta at all.
  for (ToolCall& call : answer.tool_calls) {
    if (call.arguments.empty()) call.arguments = "{}";
  }
  return answer;
}

}  // namespace flowrun
