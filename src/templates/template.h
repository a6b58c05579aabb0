// Template: text with `{{ path }}` placeholders rendered against a run's
// state, e.g. "{{ input.message }}" or "{{ history[0].content }}".
// Compiled once when a flow loads; Render is const and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace flowrun {

class Template {
 public:
  // A placeholder's path: object keys and array indices, in order.
  using PathElement = std::variant<std::string, size_t>;
  struct Variable {
    std::vector<PathElement> path;
    std::string text;  // as written, trimmed: "input.message"
    size_t offset;     // where the path starts in the template text
  };

  struct CompileError {
    std::string message;
    size_t offset;  // where in the template text
  };

  static std::optional<Template> Compile(std::string_view text, CompileError* error);

  // Strings render as they are, null as nothing, other values as JSON.
  // A path that is not in the state is an error naming it.
  Status Render(const nlohmann::json& state, std::string* out) const;

  std::vector<const Variable*> Variables() const;
  bool IsPlainText() const;

 private:
  struct Part {
    std::string literal;  // used when variable is empty
    std::optional<Variable> variable;
  };
  std::vector<Part> parts_;
};

}  // namespace flowrun
