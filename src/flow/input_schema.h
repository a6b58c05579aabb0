// InputSchema: the fields a flow's request body may carry, and the check
// that runs before any step (a bad request never reaches a model).
// Immutable after construction; Validate is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace flowrun {

struct InputField {
  std::string name;
  std::string type = "string";  // string|number|integer|boolean|array|object|messages
  bool required = false;
  nlohmann::json default_value;  // null: none
  std::optional<size_t> max_length;  // strings: characters; arrays/messages: items
  std::string description;
};

// The type names a flow file may use.
const std::vector<std::string>& InputTypeNames();

// Whether `value` is of input type `type` (e.g. "integer", "messages").
bool HasInputType(const nlohmann::json& value, const std::string& type);

struct InputError {
  std::string field;    // which input; empty when the body itself is wrong
  std::string message;  // e.g. "input 'message' is required"
};

class InputSchema {
 public:
  InputSchema() = default;
  explicit InputSchema(std::vector<InputField> fields) : fields_(std::move(fields)) {}

  // Checks `body` (a JSON object); returns the input every step sees: given
  // values, then defaults, then null for optional fields without a default.
  std::optional<nlohmann::json> Validate(const nlohmann::json& body, InputError* error) const;

  const std::vector<InputField>& fields() const { return fields_; }
  const InputField* Find(const std::string& name) const;

  // For GET /flows: {"message": {"type": "string", "required": true, ...}}.
  nlohmann::json Describe() const;

 private:
  std::vector<InputField> fields_;
};

}  // namespace flowrun
