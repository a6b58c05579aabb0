// Request-body validation against a flow's declared inputs.
#include "flow/input_schema.h"

#include "core/edit_distance.h"

namespace flowrun {
namespace {

// Unicode code points, so a limit means characters, not UTF-8 bytes.
size_t CodePoints(const std::string& text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

std::string Article(const std::string& type) {
  if (type == "messages") return "a list of messages";
  if (type == "array") return "an array";
  if (type == "object" || type == "integer") return "an " + type;
  return "a " + type;
}

std::string JsonTypeName(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number()) return "number";
  return value.type_name();
}

bool CheckMessages(const InputField& field, const nlohmann::json& value, InputError* error) {
  for (size_t i = 0; i < value.size(); ++i) {
    const auto& message = value[i];
    std::string where = "input '" + field.name + "' item " + std::to_string(i);
    if (!message.is_object() || !message.contains("role") || !message.contains("content") ||
        !message["role"].is_string() || !message["content"].is_string()) {
      *error = {field.name, where + " must be {\"role\": string, \"content\": string}"};
      return false;
    }
    const std::string& role = message["role"].get_ref<const std::string&>();
    if (role != "user" && role != "assistant" && role != "system") {
      *error = {field.name, where + " has role '" + role + "'; use user, assistant or system"};
      return false;
    }
  }
  return true;
}

bool CheckValue(const InputField& field, const nlohmann::json& value, InputError* error) {
  if (!HasInputType(value, field.type)) {
    *error = {field.name, "input '" + field.name + "' must be " + Article(field.type) + ", got " +
                              JsonTypeName(value)};
    return false;
  }
  if (field.max_length) {
    size_t length = value.is_string() ? CodePoints(value.get_ref<const std::string&>()) : value.size();
    if ((value.is_string() || value.is_array()) && length > *field.max_length) {
      std::string unit = value.is_string() ? " characters" : " items";
      *error = {field.name, "input '" + field.name + "' is too long: " + std::to_string(length) +
                                unit + ", at most " + std::to_string(*field.max_length)};
      return false;
    }
  }
  return field.type != "messages" || CheckMessages(field, value, error);
}

}  // namespace

bool HasInputType(const nlohmann::json& value, const std::string& type) {
  if (type == "string") return value.is_string();
  if (type == "number") return value.is_number();
  if (type == "integer") return value.is_number_integer();
  if (type == "boolean") return value.is_boolean();
  if (type == "array" || type == "messages") return value.is_array();
  if (type == "object") return value.is_object();
  return false;
}

const std::vector<std::string>& InputTypeNames() {
  static const std::vector<std::string> kNames = {"string", "number", "integer", "boolean",
                                                  "array",  "object", "messages"};
  return kNames;
}

const InputField* InputSchema::Find(const std::string& name) const {
  for (const auto& field : fields_) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

std::optional<nlohmann::json> InputSchema::Validate(const nlohmann::json& body,
                                                    InputError* error) const {
  if (!body.is_object()) {
    *error = {"", "the request body must be a JSON object, got " + JsonTypeName(body)};
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const auto& field : fields_) names.push_back(field.name);
  for (const auto& [key, value] : body.items()) {
    if (Find(key) == nullptr) {
      *error = {key, "unknown input '" + key + "'" + DidYouMean(key, names)};
      return std::nullopt;
    }
  }
  nlohmann::json input = nlohmann::json::object();
  for (const auto& field : fields_) {
    auto given = body.find(field.name);
    if (given == body.end() || given->is_null()) {
      if (field.required) {
        *error = {field.name, "input '" + field.name + "' is required"};
        return std::nullopt;
      }
      input[field.name] = field.default_value;
      continue;
    }
    if (!CheckValue(field, *given, error)) return std::nullopt;
    input[field.name] = *given;
  }
  return input;
}

nlohmann::json InputSchema::Describe() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& field : fields_) {
    nlohmann::json item = {{"type", field.type}, {"required", field.required}};
    if (!field.default_value.is_null()) item["default"] = field.default_value;
    if (field.max_length) item["max_length"] = *field.max_length;
    if (!field.description.empty()) item["description"] = field.description;
    out[field.name] = std::move(item);
  }
  return out;
}

}  // namespace flowrun
