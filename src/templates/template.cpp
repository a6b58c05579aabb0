// Parsing and rendering of `{{ path }}` templates.
#include "templates/template.h"

#include <cctype>
#include <charconv>

namespace flowrun {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

// Parses "a.b[0].c" starting at `text[0]`; `base` is its offset in the template.
std::optional<Template::Variable> ParsePath(std::string_view text, size_t base,
                                            Template::CompileError* error) {
  Template::Variable variable{{}, std::string(text), base};
  size_t i = 0;
  auto fail = [&](const std::string& message) {
    *error = {message, base + i};
    return std::nullopt;
  };
  while (i < text.size()) {
    if (!IsNameStart(text[i])) return fail("expected a name in placeholder '" + std::string(text) + "'");
    size_t start = i;
    while (i < text.size() && IsNameChar(text[i])) ++i;
    variable.path.emplace_back(std::string(text.substr(start, i - start)));
    while (i < text.size() && text[i] == '[') {
      size_t close = text.find(']', i);
      std::string_view digits = text.substr(i + 1, close == text.npos ? 0 : close - i - 1);
      if (close == text.npos || digits.empty() ||
          digits.find_first_not_of("0123456789") != digits.npos) {
        return fail("expected an index like [0] in placeholder '" + std::string(text) + "'");
      }
      size_t index = 0;
      auto [end, error_code] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (error_code != std::errc() || end != digits.data() + digits.size()) {
        return fail("index [" + std::string(digits) + "] is too large in placeholder '" + std::string(text) + "'");
      }
      variable.path.emplace_back(index);
      i = close + 1;
    }
    if (i == text.size()) break;
    if (text[i] != '.') return fail("unexpected '" + std::string(1, text[i]) + "' in placeholder '" + std::string(text) + "'");
    ++i;
    if (i == text.size()) return fail("placeholder '" + std::string(text) + "' ends with '.'");
  }
  return variable;
}

std::string PathText(const std::vector<Template::PathElement>& path, size_t count) {
  std::string text;
  for (size_t i = 0; i < count && i < path.size(); ++i) {
    if (const auto* key = std::get_if<std::string>(&path[i])) {
      if (!text.empty()) text += '.';
      text += *key;
    } else {
      text += "[" + std::to_string(std::get<size_t>(path[i])) + "]";
    }
  }
  return text;
}

}  // namespace

std::optional<Template> Template::Compile(std::string_view text, CompileError* error) {
  Template result;
  size_t position = 0;
  while (position < text.size()) {
    size_t open = text.find("{{", position);
    if (open == text.npos) {
      result.parts_.push_back({std::string(text.substr(position)), std::nullopt});
      break;
    }
    if (open > position) result.parts_.push_back({std::string(text.substr(position, open - position)), std::nullopt});
    size_t close = text.find("}}", open + 2);
    if (close == text.npos) {
      *error = {"unclosed '{{' (expected '}}')", open};
      return std::nullopt;
    }
    std::string_view inner = text.substr(open + 2, close - open - 2);
    size_t first = inner.find_first_not_of(" \t");
    size_t last = inner.find_last_not_of(" \t");
    std::string_view trimmed = first == inner.npos ? std::string_view() : inner.substr(first, last - first + 1);
    if (trimmed.empty()) {
      *error = {"empty placeholder '{{ }}'", open};
      return std::nullopt;
    }
    auto variable = ParsePath(trimmed, open + 2 + first, error);
    if (!variable) return std::nullopt;
    result.parts_.push_back({"", std::move(variable)});
    position = close + 2;
  }
  return result;
}

Status Template::Render(const nlohmann::json& state, std::string* out) const {
  out->clear();
  for (const auto& part : parts_) {
    if (!part.variable) {
      *out += part.literal;
      continue;
    }
    const nlohmann::json* value = &state;
    const auto& path = part.variable->path;
    for (size_t i = 0; i < path.size(); ++i) {
      const nlohmann::json* next = nullptr;
      if (const auto* key = std::get_if<std::string>(&path[i])) {
        if (value->is_object()) {
          auto found = value->find(*key);
          if (found != value->end()) next = &*found;
        }
      } else if (value->is_array() && std::get<size_t>(path[i]) < value->size()) {
        next = &(*value)[std::get<size_t>(path[i])];
      }
      if (next == nullptr) {
        return Status::NotFound("template variable '" + part.variable->text + "' is undefined ('" +
                                PathText(path, i + 1) + "' is missing)");
      }
      value = next;
    }
    if (value->is_string()) {
      *out += value->get_ref<const std::string&>();
    } else if (!value->is_null()) {
      *out += value->dump();
    }
  }
  return Status::Ok();
}

std::vector<const Template::Variable*> Template::Variables() const {
  std::vector<const Variable*> variables;
  for (const auto& part : parts_) {
    if (part.variable) variables.push_back(&*part.variable);
  }
  return variables;
}

bool Template::IsPlainText() const { return Variables().empty(); }

}  // namespace flowrun
