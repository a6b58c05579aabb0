// OpenAI wire-format helpers. Parsing never throws: a malformed upstream is
// an expected failure reported through Status.
#include "llm/openai_wire.h"

#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace flowrun {
namespace {

using nlohmann::json;

constexpr std::string_view kRedacted = "[redacted]";

// The message inside an "error" member, which servers spell differently:
// OpenAI uses an object with "message", some proxies a bare string.
std::string ErrorText(const json& error) {
  if (error.is_string()) return error.get<std::string>();
  if (error.is_object()) {
    auto message = error.find("message");
    if (message != error.end() && message->is_string()) return message->get<std::string>();
  }
  return DumpJson(error);
}

}  // namespace

std::string BuildChatRequestBody(const ChatRequest& request) {
  json messages = json::array();
  for (const auto& message : request.messages) {
    messages.push_back({{"role", message.role}, {"content", message.content}});
  }
  json body = {{"model", request.model}, {"messages", std::move(messages)}, {"stream", true}};
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  // Replace invalid UTF-8 rather than throw: user text is not ours to reject here.
  return DumpJson(body);
}

Status ParseOpenAiChunk(std::string_view data, OpenAiChunk* chunk) {
  *chunk = OpenAiChunk();
  if (data == "[DONE]") {
    chunk->done = true;
    return Status::Ok();
  }
  const json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status::Error("upstream sent a data line that is not JSON: " + Abbreviate(data, 80));
  }
  if (auto error = parsed.find("error"); error != parsed.end() && !error->is_null()) {
    return Status::Error("upstream error: " + Abbreviate(ErrorText(*error), 500));
  }
  auto choices = parsed.find("choices");
  // Some servers send choice-less chunks (usage, content-filter results).
  if (choices == parsed.end() || !choices->is_array() || choices->empty()) return Status::Ok();
  const json& choice = (*choices)[0];
  if (!choice.is_object()) return Status::Ok();
  if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
    auto content = delta->find("content");
    if (content != delta->end() && content->is_string()) chunk->content = content->get<std::string>();
  }
  auto finish_reason = choice.find("finish_reason");
  chunk->finished = finish_reason != choice.end() && !finish_reason->is_null();
  return Status::Ok();
}

std::string UpstreamErrorMessage(std::string_view body) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded() && parsed.is_object()) {
    for (const char* key : {"error", "detail", "message"}) {
      auto found = parsed.find(key);
      if (found == parsed.end() || found->is_null()) continue;
      std::string text = ErrorText(*found);
      // {"error": "SyntaxError", "message": "Expected ','..."}: the name alone says little.
      auto message = parsed.find("message");
      if (found->is_string() && message != parsed.end() && message->is_string() && key != std::string("message")) {
        text += ": " + message->get<std::string>();
      }
      return Abbreviate(text, 500);
    }
  }
  return Abbreviate(body, 200);
}

std::string Abbreviate(std::string_view text, std::size_t max_bytes) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' ||
                           text.front() == '\t')) {
    text.remove_prefix(1);
  }
  bool cut = false;
  if (text.size() > max_bytes) {
    std::size_t end = max_bytes;
    // Back up over UTF-8 continuation bytes so no character is split.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string result(text);
  while (!result.empty() && static_cast<unsigned char>(result.back()) <= ' ') result.pop_back();
  for (char& c : result) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  if (cut) result += "...";
  return result;
}

std::string RedactSecret(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), kRedacted);
    pos += kRedacted.size();
  }
  return text;
}

std::string UrlForDisplay(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  const std::size_t host_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const std::size_t authority_end = url.find_first_of("/?#", host_start);
  const std::size_t at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < host_start) return std::string(url);
  return std::string(url.substr(0, host_start)) + std::string(url.substr(at + 1));
}

}  // namespace flowrun
