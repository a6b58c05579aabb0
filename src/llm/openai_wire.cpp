// OpenAI wire-format helpers. Parsing never throws: a malformed upstream is
// an expected failure reported through Status. Chunks, parsed once per
// streamed token, go through the fast scanner (chunk_scanner.h) and, when it
// declines, a SAX handler rather than a DOM.
#include "llm/openai_wire.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "llm/chunk_scanner.h"

namespace flowrun {
namespace {

using nlohmann::json;

constexpr std::string_view kRedacted = "[redacted]";
// Larger counts (nonsense from a server) are clamped here.
constexpr json::number_unsigned_t kMaxTokenCount = 1ULL << 53;

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

// Reads what ParseOpenAiChunk needs from a chat.completion.chunk without
// building a DOM: whether the root is an object, whether its "error" and
// "usage" members are non-null, choices[0].delta.content (when a string) and
// choices[0].finish_reason (whether non-null, and its text). A repeated key
// counts as its last occurrence, as in a DOM.
//
// The interesting values lie on one path, root -> "choices" array -> first
// element -> "delta" object, so the state is how many of those containers
// are open (`path_`, at most 4) and how deep the parser is (`depth_`); while
// depth_ > path_ it is inside something else and only counts brackets.
class ChunkSax final : public nlohmann::json_sax<json> {
 public:
  bool root_is_object() const { return root_is_object_; }
  bool has_error() const { return has_error_; }
  bool finished() const { return finished_; }
  bool has_usage() const { return has_usage_; }
  bool has_extras() const { return has_extras_; }
  std::string TakeContent() { return std::move(content_); }
  std::string TakeFinishReason() { return std::move(finish_reason_); }

  bool null() override { return Scalar(Kind::kNull, nullptr); }
  bool boolean(bool /*val*/) override { return Scalar(Kind::kOther, nullptr); }
  bool number_integer(number_integer_t /*val*/) override { return Scalar(Kind::kOther, nullptr); }
  bool number_unsigned(number_unsigned_t /*val*/) override { return Scalar(Kind::kOther, nullptr); }
  bool number_float(number_float_t /*val*/, const string_t& /*s*/) override { return Scalar(Kind::kOther, nullptr); }
  bool string(string_t& val) override { return Scalar(Kind::kString, &val); }
  bool binary(binary_t& /*val*/) override { return Scalar(Kind::kOther, nullptr); }
  bool start_object(std::size_t /*elements*/) override { return Open(Kind::kObject); }
  bool start_array(std::size_t /*elements*/) override { return Open(Kind::kArray); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool key(string_t& val) override {
    if (depth_ != path_) return true;
    if (path_ == kRootLevel) {
      slot_ = val == "choices" ? Slot::kChoices
              : val == "error" ? Slot::kError
              : val == "usage" ? Slot::kUsage
                               : Slot::kNone;
    } else if (path_ == kChoiceLevel) {
      slot_ = val == "delta" ? Slot::kDelta : val == "finish_reason" ? Slot::kFinishReason : Slot::kNone;
    } else if (path_ == kDeltaLevel) {
      slot_ = val == "content"                                     ? Slot::kContent
              : val == "tool_calls" || val == "reasoning_content" ||
                        val == "reasoning" || val == "refusal" ? Slot::kExtra
                                                               : Slot::kNone;
    }
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*ex*/) override {
    return false;
  }

 private:
  enum class Kind { kNull, kString, kObject, kArray, kOther };
  // What the next value at the current path level is, if it matters.
  enum class Slot { kNone, kRoot, kError, kUsage, kChoices, kFirstChoice, kDelta, kContent, kFinishReason, kExtra };
  // path_ values: which container on the interesting path is innermost.
  static constexpr int kRootLevel = 1;     // the top-level object
  static constexpr int kChoicesLevel = 2;  // its "choices" array
  static constexpr int kChoiceLevel = 3;   // choices[0]
  static constexpr int kDeltaLevel = 4;    // choices[0].delta

  // A value starts at the current level; returns whether to descend into it
  // (for a container) and records what it says. False from `*keep_going`
  // stops the parse: a root that is not an object is already a failure.
  bool Consume(Kind kind, string_t* text, bool* keep_going) {
    *keep_going = true;
    if (depth_ != path_) return false;
    switch (std::exchange(slot_, Slot::kNone)) {
      case Slot::kNone:
        return false;
      case Slot::kRoot:
        root_is_object_ = kind == Kind::kObject;
        *keep_going = root_is_object_;
        return root_is_object_;
      case Slot::kError:
        has_error_ = kind != Kind::kNull;
        return false;
      case Slot::kUsage:
        has_usage_ = kind != Kind::kNull;
        return false;
      case Slot::kExtra:
        has_extras_ = has_extras_ || kind != Kind::kNull;
        return false;
      case Slot::kChoices:
        content_.clear();
        finished_ = false;
        finish_reason_.clear();
        return kind == Kind::kArray;
      case Slot::kFirstChoice:
        return kind == Kind::kObject;
      case Slot::kDelta:
        content_.clear();
        return kind == Kind::kObject;
      case Slot::kContent:
        if (kind == Kind::kString) {
          content_ = std::move(*text);
        } else {
          content_.clear();
        }
        return false;
      case Slot::kFinishReason:
        finished_ = kind != Kind::kNull;
        if (kind == Kind::kString) {
          finish_reason_ = std::move(*text);
        } else {
          finish_reason_.clear();
        }
        return false;
    }
    return false;
  }

  bool Scalar(Kind kind, string_t* text) {
    bool keep_going = true;
    Consume(kind, text, &keep_going);
    return keep_going;
  }

  bool Open(Kind kind) {
    bool keep_going = true;
    const bool descend = Consume(kind, nullptr, &keep_going);
    ++depth_;
    if (descend) {
      ++path_;
      // The first value inside "choices" is the only choice that counts.
      if (path_ == kChoicesLevel) slot_ = Slot::kFirstChoice;
    }
    return keep_going;
  }

  bool Close() {
    --depth_;
    if (path_ > depth_) path_ = depth_;
    slot_ = Slot::kNone;
    return true;
  }

  int depth_ = 0;
  int path_ = 0;
  Slot slot_ = Slot::kRoot;
  bool root_is_object_ = false;
  bool has_error_ = false;
  bool has_usage_ = false;
  bool has_extras_ = false;  // a non-null tool_calls, reasoning(_content) or refusal in the delta
  bool finished_ = false;
  std::string content_;
  std::string finish_reason_;
};

// A token count as servers send it: a non-negative integer, else 0.
long long TokenCount(const json& usage, const char* key) {
  auto found = usage.find(key);
  // The parser keeps a negative integer signed and a non-negative one unsigned.
  if (found == usage.end() || !found->is_number_unsigned()) return 0;
  return static_cast<long long>(std::min(found->get<json::number_unsigned_t>(), kMaxTokenCount));
}

// Reads the usage of a chunk known to carry one (rare: once per stream).
// A usage that is not an object counts nothing, never an error.
void ReadUsage(std::string_view data, OpenAiChunk* chunk) {
  chunk->has_usage = true;
  const json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return;
  auto usage = parsed.find("usage");
  if (usage == parsed.end() || !usage->is_object()) return;
  chunk->prompt_tokens = TokenCount(*usage, "prompt_tokens");
  chunk->completion_tokens = TokenCount(*usage, "completion_tokens");
}

std::string StringAt(const json& object, const char* key) {
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// Reads the tool calls, reasoning and refusal of a delta (rare next to
// plain text, so a DOM is fine).
void ReadExtras(std::string_view data, OpenAiChunk* chunk) {
  const json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return;
  auto choices = parsed.find("choices");
  if (choices == parsed.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return;
  auto delta = (*choices)[0].find("delta");
  if (delta == (*choices)[0].end() || !delta->is_object()) return;
  chunk->reasoning = StringAt(*delta, "reasoning_content");
  if (chunk->reasoning.empty()) chunk->reasoning = StringAt(*delta, "reasoning");
  chunk->refusal = StringAt(*delta, "refusal");
  auto calls = delta->find("tool_calls");
  if (calls == delta->end() || !calls->is_array()) return;
  long long position = 0;
  for (const json& call : *calls) {
    const long long here = position++;
    if (!call.is_object()) continue;
    OpenAiToolFragment fragment;
    auto index = call.find("index");
    fragment.index = index != call.end() && index->is_number_integer() ? index->get<long long>() : here;
    fragment.id = StringAt(call, "id");
    if (auto function = call.find("function"); function != call.end() && function->is_object()) {
      fragment.name = StringAt(*function, "name");
      fragment.arguments = StringAt(*function, "arguments");
    }
    chunk->tool_calls.push_back(std::move(fragment));
  }
}

json MessageJson(const ChatMessage& message) {
  json out = {{"role", message.role}, {"content", message.content}};
  if (!message.tool_calls.empty()) {
    if (message.content.empty()) out["content"] = nullptr;
    json calls = json::array();
    for (const ToolCall& call : message.tool_calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    out["tool_calls"] = std::move(calls);
  }
  if (message.role == "tool") out["tool_call_id"] = message.tool_call_id;
  return out;
}

// OpenAI's strict structured outputs take only schemas whose every object
// forbids other keys and requires each of its properties; any other schema
// goes without `strict` (flowrun validates the answer itself either way),
// rather than being refused with a 400.
bool StrictCompatible(const json& schema, int depth = 0) {
  if (depth > 64) return false;
  if (schema.is_array()) {
    for (const auto& item : schema) {
      if (!StrictCompatible(item, depth + 1)) return false;
    }
    return true;
  }
  if (!schema.is_object()) return true;
  const bool object = schema.contains("properties") || schema.value("type", json()) == "object";
  if (object) {
    if (schema.value("additionalProperties", json()) != false) return false;
    const json required = schema.value("required", json::array());
    const json properties = schema.value("properties", json::object());
    if (!required.is_array() || !properties.is_object()) return false;
    for (const auto& property : properties.items()) {
      if (std::find(required.begin(), required.end(), property.key()) == required.end()) return false;
    }
  }
  for (const char* key : {"items", "anyOf", "allOf", "oneOf"}) {
    if (auto found = schema.find(key); found != schema.end() && !StrictCompatible(*found, depth + 1)) return false;
  }
  for (const char* key : {"properties", "$defs", "definitions"}) {
    auto found = schema.find(key);
    if (found == schema.end() || !found->is_object()) continue;
    for (const auto& [name, value] : found->items()) {
      if (!StrictCompatible(value, depth + 1)) return false;
    }
  }
  return true;
}

}  // namespace

std::string BuildChatRequestBody(const ChatRequest& request) {
  json messages = json::array();
  for (const auto& message : request.messages) {
    messages.push_back(MessageJson(message));
  }
  json body = {{"model", request.model},
               {"messages", std::move(messages)},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  if (!request.tools.empty()) {
    json tools = json::array();
    for (const ToolSpec& tool : request.tools) {
      tools.push_back({{"type", "function"},
                       {"function",
                        {{"name", tool.name}, {"description", tool.description}, {"parameters", tool.parameters}}}});
    }
    body["tools"] = std::move(tools);
  }
  if (request.output_schema) {
    body["response_format"] = {
        {"type", "json_schema"},
        {"json_schema",
         {{"name", request.output_schema_name},
          {"schema", *request.output_schema},
          {"strict", StrictCompatible(*request.output_schema)}}}};
  }
  // Replace invalid UTF-8 rather than throw: user text is not ours to reject here.
  return DumpJson(body);
}

Status ParseOpenAiChunk(std::string_view data, OpenAiChunk* chunk) {
  *chunk = OpenAiChunk();
  if (data == "[DONE]") {
    chunk->done = true;
    return Status::Ok();
  }
  // Almost every chunk takes the fast path; it declines anything unusual.
  ScannedChunk scanned;
  if (ScanOpenAiChunk(data, &scanned) && !scanned.has_error) {
    chunk->content = std::move(scanned.content);
    chunk->finished = scanned.finished;
    chunk->finish_reason = std::move(scanned.finish_reason);
    if (scanned.has_usage) ReadUsage(data, chunk);
    return Status::Ok();
  }
  ChunkSax sax;
  if (!json::sax_parse(data, &sax) || !sax.root_is_object()) {
    return Status::Malformed("upstream sent a data line that is not JSON: " + Abbreviate(data, 80));
  }
  if (sax.has_error()) {
    // Rare, and the message may need any of the error's shapes: parse it in full.
    const json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (auto error = parsed.find("error"); error != parsed.end() && !error->is_null()) {
      return Status::UpstreamError("upstream error: " + Abbreviate(ErrorText(*error), 500));
    }
  }
  chunk->content = sax.TakeContent();
  chunk->finished = sax.finished();
  chunk->finish_reason = sax.TakeFinishReason();
  if (sax.has_usage()) ReadUsage(data, chunk);
  if (sax.has_extras()) ReadExtras(data, chunk);
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
