// Chat-completions request reading and the messages-to-input mapping
// (openai_request.h).
#include "server/openai_request.h"

#include <algorithm>
#include <vector>

#include "core/json_text.h"

namespace flowrun {
namespace {

std::string Where(size_t index) { return "messages[" + std::to_string(index) + "]"; }

ChatRequestError Bad(std::string message, std::string param, std::string code = "") {
  return ChatRequestError{400, std::move(message), std::move(param), std::move(code)};
}

// A message's text: a string, null (an assistant turn that only called
// tools), or a list of parts whose text parts are joined by newlines.
std::optional<ChatRequestError> MessageText(const nlohmann::json& content, size_t index, std::string* text) {
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) {
    *text = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) {
    return Bad(Where(index) + ".content must be a string or a list of text parts", Where(index) + ".content");
  }
  for (size_t part = 0; part < content.size(); ++part) {
    const nlohmann::json& item = content[part];
    const std::string where = Where(index) + ".content[" + std::to_string(part) + "]";
    const std::string type = item.is_object() && item.value("type", nlohmann::json()).is_string()
                                 ? item["type"].get<std::string>() : "";
    if (type != "text") {
      return Bad(where + ": only text parts are supported" + (type.empty() ? "" : ", got '" + type + "'"), where);
    }
    if (!item.value("text", nlohmann::json()).is_string()) return Bad(where + ".text must be a string", where);
    if (!text->empty()) *text += "\n";
    *text += item["text"].get<std::string>();
  }
  return std::nullopt;
}

struct Conversation {
  nlohmann::json messages = nlohmann::json::array();  // {role, content}, developer as system
  int last_user = -1;
  std::string system;
};

std::optional<ChatRequestError> ReadMessages(const nlohmann::json& list, Conversation* out) {
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& message = list[i];
    if (!message.is_object()) return Bad(Where(i) + " must be an object with role and content", Where(i));
    const nlohmann::json role = message.value("role", nlohmann::json());
    std::string name = role.is_string() ? role.get<std::string>() : "";
    if (name != "system" && name != "developer" && name != "user" && name != "assistant") {
      return Bad(Where(i) + ".role must be system, developer, user or assistant" +
                     (name.empty() ? std::string() : ", got '" + name + "'"),
                 Where(i) + ".role");
    }
    std::string text;
    if (auto error = MessageText(message.value("content", nlohmann::json()), i, &text)) return error;
    if (name == "developer") name = "system";
    if (name == "system") out->system += (out->system.empty() ? "" : "\n\n") + text;
    if (name == "user") out->last_user = static_cast<int>(i);
    out->messages.push_back({{"role", name}, {"content", text}});
  }
  return std::nullopt;
}

std::optional<ChatRequestError> ReadOverrides(const nlohmann::json& body, const Flow& flow, ModelOverrides* out) {
  auto allowed = [&](const char* name) {
    const auto& list = flow.openai.pass_through;
    return std::find(list.begin(), list.end(), name) != list.end() && body.contains(name) && !body[name].is_null();
  };
  if (allowed("temperature")) {
    if (!body["temperature"].is_number()) return Bad("'temperature' must be a number", "temperature");
    out->temperature = body["temperature"].get<double>();
  }
  if (allowed("top_p")) {
    if (!body["top_p"].is_number()) return Bad("'top_p' must be a number", "top_p");
    out->top_p = body["top_p"].get<double>();
  }
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {  // the newer name wins
    if (!allowed(name)) continue;
    const nlohmann::json& value = body[name];
    if (!value.is_number_integer() || value.get<long long>() < 1 || value.get<long long>() > 1 << 30) {
      return Bad(std::string("'") + name + "' must be a whole number of at least 1", name);
    }
    out->max_tokens = value.get<int>();
  }
  return std::nullopt;
}

}  // namespace

std::optional<ChatRequestError> ReadChatRequest(const nlohmann::json& body, ChatCall* call) {
  if (!body.is_object()) return Bad("the request body must be a JSON object", "");
  const nlohmann::json model = body.value("model", nlohmann::json());
  if (!model.is_string() || model.get<std::string>().empty()) {
    return Bad("'model' is required: the id of a served flow (GET /v1/models lists them)", "model");
  }
  call->model = model.get<std::string>();
  const nlohmann::json messages = body.value("messages", nlohmann::json());
  if (!messages.is_array() || messages.empty()) {
    return Bad("'messages' is required: a non-empty list of {role, content}", "messages");
  }
  const nlohmann::json n = body.value("n", nlohmann::json());
  if (!n.is_null() && !(n.is_number_integer() && n.get<long long>() == 1)) {
    return Bad("'n' is " + DumpJson(n) + "; flowrun answers with one choice, so n must be 1", "n");
  }
  const nlohmann::json stream = body.value("stream", nlohmann::json());
  if (!stream.is_null() && !stream.is_boolean()) return Bad("'stream' must be true or false", "stream");
  call->stream = stream.is_boolean() && stream.get<bool>();
  const nlohmann::json options = body.value("stream_options", nlohmann::json());
  call->include_usage = call->stream && options.is_object() &&
                        options.value("include_usage", nlohmann::json()).is_boolean() &&
                        options["include_usage"].get<bool>();
  return std::nullopt;
}

std::optional<ChatRequestError> MapChatToFlow(const nlohmann::json& body, const Flow& flow, ChatCall* call) {
  Conversation conversation;
  const nlohmann::json messages =
      body.is_object() ? body.value("messages", nlohmann::json::array()) : nlohmann::json::array();
  if (auto error = ReadMessages(messages, &conversation)) return error;
  std::vector<std::pair<std::string, std::string>> map = flow.openai.input;
  if (map.empty()) {
    const InputField* message = flow.input.Find("message");
    const InputField* history = flow.input.Find("history");
    if (message != nullptr && message->type == "string") map.emplace_back("message", "last_user_message");
    if (history != nullptr && (history->type == "messages" || history->type == "array")) {
      map.emplace_back("history", "earlier_messages");
    }
  }
  const nlohmann::json& all = conversation.messages;
  const int last = conversation.last_user;
  for (const auto& [name, source] : map) {
    if (source == "messages") {
      call->input[name] = all;
    } else if (source == "system") {
      call->input[name] = conversation.system;
    } else if (last < 0) {
      return Bad("'messages' holds no user message; flow '" + flow.name + "' takes its input '" + name +
                     "' from the last one",
                 "messages");
    } else if (source == "last_user_message") {
      call->input[name] = all[static_cast<size_t>(last)]["content"];
    } else {  // earlier_messages
      call->input[name] = nlohmann::json(all.begin(), all.begin() + last);
    }
  }
  return ReadOverrides(body, flow, &call->overrides);
}

}  // namespace flowrun
