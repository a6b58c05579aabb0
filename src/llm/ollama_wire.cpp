// Ollama wire format (ollama_wire.h). Parsing never throws: a malformed
// upstream is an expected failure reported through Status.
#include "llm/ollama_wire.h"

#include <algorithm>
#include <map>
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

bool ReadCount(const json& object, const char* key, long long* count) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_number_unsigned()) return false;
  *count = static_cast<long long>(std::min(found->get<json::number_unsigned_t>(), kMaxTokenCount));
  return true;
}

json ToolArguments(const std::string& arguments) {
  json parsed = json::parse(arguments, nullptr, /*allow_exceptions=*/false);
  return parsed.is_object() ? parsed : json::object();
}

}  // namespace

std::string BuildOllamaBody(const ChatRequest& request) {
  json messages = json::array();
  std::map<std::string, std::string> tool_names;  // call id -> name, for the results
  for (const ChatMessage& message : request.messages) {
    json out = {{"role", message.role}, {"content", message.content}};
    if (!message.tool_calls.empty()) {
      json calls = json::array();
      for (const ToolCall& call : message.tool_calls) {
        tool_names[call.id] = call.name;
        calls.push_back({{"function", {{"name", call.name}, {"arguments", ToolArguments(call.arguments)}}}});
      }
      out["tool_calls"] = std::move(calls);
    }
    if (message.role == "tool") {
      if (auto name = tool_names.find(message.tool_call_id); name != tool_names.end()) out["tool_name"] = name->second;
    }
    messages.push_back(std::move(out));
  }
  json body = {{"model", request.model}, {"messages", std::move(messages)}, {"stream", true}};
  json options = json::object();
  if (request.temperature) options["temperature"] = *request.temperature;
  if (request.top_p) options["top_p"] = *request.top_p;
  if (request.max_tokens) options["num_predict"] = *request.max_tokens;
  if (!options.empty()) body["options"] = std::move(options);
  if (request.output_schema) body["format"] = *request.output_schema;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& tool : request.tools) {
      tools.push_back({{"type", "function"},
                       {"function",
                        {{"name", tool.name}, {"description", tool.description}, {"parameters", tool.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  return DumpJson(body);
}

Status OllamaDecoder::Decode(std::string_view, std::string_view data, DecodedMessage* out) {
  const json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    out->fault = StreamFault::kMalformed;
    return Status::Malformed("upstream sent a line that is not JSON: " + Abbreviate(data, 80));
  }
  if (auto error = parsed.find("error"); error != parsed.end() && !error->is_null()) {
    return Status::UpstreamError("upstream error: " + UpstreamErrorMessage(data));
  }
  if (auto message = parsed.find("message"); message != parsed.end() && message->is_object()) {
    out->text = StringAt(*message, "content");
    out->reasoning = StringAt(*message, "thinking");
    if (auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
      for (const json& call : *calls) {
        if (!call.is_object()) continue;
        out->progress = true;
        auto function = call.find("function");
        if (function == call.end() || !function->is_object()) continue;
        auto arguments = function->find("arguments");
        std::string text = arguments == function->end()  ? "{}"
                           : arguments->is_string()      ? arguments->get<std::string>()
                                                         : DumpJson(*arguments);
        Status added = tools_.Add(next_call_++, StringAt(call, "id"), StringAt(*function, "name"), text);
        if (!added.ok()) {
          out->fault = StreamFault::kMalformed;
          return added;
        }
      }
    }
  }
  ReadCount(parsed, "prompt_eval_count", &prompt_tokens_);
  ReadCount(parsed, "eval_count", &completion_tokens_);
  if (auto done = parsed.find("done"); done != parsed.end() && done->is_boolean() && done->get<bool>()) {
    done_ = true;
    finish_reason_ = StringAt(parsed, "done_reason");
    // Ollama says "stop" after tool calls; OpenAI's word for it is tool_calls.
    if (finish_reason_ == "stop" && !tools_.empty()) finish_reason_ = "tool_calls";
    out->progress = true;
    out->end = true;
  }
  return Status::Ok();
}

DecodedAnswer OllamaDecoder::Answer() const {
  DecodedAnswer answer;
  answer.finished = done_;
  answer.finish_reason = finish_reason_;
  answer.prompt_tokens = prompt_tokens_;
  answer.completion_tokens = completion_tokens_;
  answer.tool_calls = tools_.Calls();
  return answer;
}

}  // namespace flowrun
