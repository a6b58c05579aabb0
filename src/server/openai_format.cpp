// OpenAI wire shapes (openai_format.h). Chunks, the bulk of a stream, are
// built as text around one escaped string; the rest goes through
// nlohmann's ordered_json so keys keep OpenAI's order.
#include "server/openai_format.h"

#include "core/json_escape.h"
#include "core/json_text.h"

namespace flowrun {
namespace {

std::string ErrorType(int status) {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

nlohmann::ordered_json NullIfEmpty(const std::string& text) {
  return text.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(text);
}

std::string Dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

nlohmann::ordered_json OpenAiErrorBody(int status, const std::string& message, const std::string& param,
                                       const std::string& code) {
  nlohmann::ordered_json error;
  error["message"] = message;
  error["type"] = ErrorType(status);
  error["param"] = NullIfEmpty(param);
  error["code"] = NullIfEmpty(code);
  nlohmann::ordered_json body;
  body["error"] = std::move(error);
  return body;
}

HttpResponse OpenAiError(int status, const std::string& message, const std::string& param, const std::string& code) {
  HttpResponse response;
  response.status = status;
  response.body = Dump(OpenAiErrorBody(status, message, param, code)) + "\n";
  return response;
}

void ToOpenAiError(HttpResponse& response) {
  if (response.stream || response.status < 400) return;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_string()) return;
  const std::string field = body.value("field", "");
  std::string code;
  if (response.status == 401) code = "invalid_api_key";
  if (response.status == 429) code = "rate_limit_exceeded";
  response.body = Dump(OpenAiErrorBody(response.status, body["error"].get<std::string>(), field, code)) + "\n";
  response.content_type = "application/json";
}

nlohmann::ordered_json UsageJson(const RunCounters& counters) {
  nlohmann::ordered_json usage;
  usage["prompt_tokens"] = counters.prompt_tokens;
  usage["completion_tokens"] = counters.completion_tokens;
  usage["total_tokens"] = counters.prompt_tokens + counters.completion_tokens;
  return usage;
}

std::string OpenAiRunErrorMessage(const std::string& error, const std::string& step) {
  return step.empty() ? error : "step '" + step + "' failed: " + error;
}

OpenAiChunkEncoder::OpenAiChunkEncoder(CompletionHeader header, bool include_usage)
    : header_(std::move(header)), include_usage_(include_usage) {
  prefix_ = "data: {\"id\":";
  AppendJsonString(header_.id, prefix_);
  prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":" + std::to_string(header_.created) + ",\"model\":";
  AppendJsonString(header_.model, prefix_);
  prefix_ += ",\"choices\":[";
}

void OpenAiChunkEncoder::AppendChunk(std::string_view delta_json, std::string_view finish_reason,
                                     std::string& out) const {
  out += prefix_;
  out += "{\"index\":0,\"delta\":";
  out += delta_json;
  out += ",\"logprobs\":null,\"finish_reason\":";
  out += finish_reason;
  out += include_usage_ ? "}],\"usage\":null}\n\n" : "}]}\n\n";
}

void OpenAiChunkEncoder::Begin(std::string& out) {
  AppendChunk("{\"role\":\"assistant\",\"content\":\"\"}", "null", out);
}

void OpenAiChunkEncoder::Chunk(std::string_view text, std::string& out) {
  // The hot path (one per token): escaped straight into the batch, no temporaries.
  out += prefix_;
  out += "{\"index\":0,\"delta\":{\"content\":";
  AppendJsonString(text, out);
  out += include_usage_ ? "},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
                        : "},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
}

void OpenAiChunkEncoder::Error(const Event& event, std::string& out) {
  failed_ = true;
  nlohmann::ordered_json body = OpenAiErrorBody(500, OpenAiRunErrorMessage(event.text, event.step), "", "flow_failed");
  out += "data: " + Dump(body) + "\n\n";
}

StreamEncoder::End OpenAiChunkEncoder::Finish(const RunResult& result, std::string& out) {
  if (!failed_ && result.ok) {
    AppendChunk("{}", result.counters.stopped_on_length ? "\"length\"" : "\"stop\"", out);
    if (include_usage_) {
      out += prefix_ + "],\"usage\":" + Dump(UsageJson(result.counters)) + "}\n\n";
    }
  } else if (!failed_) {
    // A run that ended badly without an error event still never ends silently.
    Event error;
    error.type = Event::Type::kError;
    error.text = result.error.empty() ? "the flow did not finish" : result.error;
    error.step = result.error_step;
    Error(error, out);
  }
  out += "data: [DONE]\n\n";
  return {200, "text/event-stream"};
}

void OpenAiCompletionEncoder::Error(const Event& event, std::string&) {
  if (error_.empty()) error_ = OpenAiRunErrorMessage(event.text, event.step);
}

StreamEncoder::End OpenAiCompletionEncoder::Finish(const RunResult& result, std::string& out) {
  if (!result.ok || !error_.empty()) {
    const int status = result.counters.upstream_errors > 0 ? 502 : 500;
    std::string message = error_;
    if (message.empty()) message = OpenAiRunErrorMessage(result.error.empty() ? "the flow did not finish" : result.error,
                                                         result.error_step);
    out += Dump(OpenAiErrorBody(status, message, "", "flow_failed")) + "\n";
    return {status, "application/json"};
  }
  nlohmann::ordered_json message;
  message["role"] = "assistant";
  message["content"] = content_;
  message["refusal"] = nullptr;
  nlohmann::ordered_json choice;
  choice["index"] = 0;
  choice["message"] = std::move(message);
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = result.counters.stopped_on_length ? "length" : "stop";
  nlohmann::ordered_json completion;
  completion["id"] = header_.id;
  completion["object"] = "chat.completion";
  completion["created"] = header_.created;
  completion["model"] = header_.model;
  completion["choices"] = nlohmann::ordered_json::array({std::move(choice)});
  completion["usage"] = UsageJson(result.counters);
  out += Dump(completion) + "\n";
  return {200, "application/json"};
}

}  // namespace flowrun
