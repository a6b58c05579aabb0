// YAML -> ConfigNode conversion on top of yaml-cpp 0.7.
#include "config/yaml_loader.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace flowrun {
namespace {

// yaml-cpp marks are 0-based; ours are 1-based.
SourceLocation ToLocation(const YAML::Mark& mark, int length = 1) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1, length};
}

// How many characters the caret underlines: a one-line scalar as written
// (with its quotes); otherwise just the first character.
int DisplayLength(const YAML::Node& node) {
  if (!node.IsScalar()) return 1;
  const std::string& text = node.Scalar();
  if (text.find('\n') != std::string::npos) return 1;
  const int quotes = node.Tag() == "!" ? 2 : 0;
  return std::max(1, static_cast<int>(text.size()) + quotes);
}

nlohmann::json PlainScalarToJson(const std::string& text) {
  static const std::regex kInteger(R"([-+]?[0-9]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, kInteger)) {
    errno = 0;
    long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return value;
  }
  if (std::regex_match(text, kFloat)) {
    double value = std::strtod(text.c_str(), nullptr);
    if (std::isfinite(value)) return value;
  }
  return text;
}

class Converter {
 public:
  explicit Converter(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  ConfigNode Convert(const YAML::Node& node) {
    ConfigNode out;
    out.where = ToLocation(node.Mark(), DisplayLength(node));
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = ConfigNode::Kind::kNull;
        break;
      case YAML::NodeType::Scalar:
        out.kind = ConfigNode::Kind::kScalar;
        // yaml-cpp tags quoted scalars "!" and plain ones "?".
        out.quoted = node.Tag() == "!";
        out.scalar = out.quoted ? nlohmann::json(node.Scalar()) : PlainScalarToJson(node.Scalar());
        if (out.scalar.is_null()) out.kind = ConfigNode::Kind::kNull;
        break;
      case YAML::NodeType::Sequence:
        out.kind = ConfigNode::Kind::kSequence;
        for (const auto& item : node) out.items.push_back(Convert(item));
        break;
      case YAML::NodeType::Map:
        out.kind = ConfigNode::Kind::kMapping;
        for (const auto& entry : node) AddEntry(entry.first, entry.second, out);
        break;
    }
    return out;
  }

 private:
  void AddEntry(const YAML::Node& key, const YAML::Node& value, ConfigNode& mapping) {
    SourceLocation key_where = ToLocation(key.Mark(), DisplayLength(key));
    if (!key.IsScalar()) {
      diagnostics_.Error(key_where, "a key must be a plain name");
      return;
    }
    const std::string& name = key.Scalar();
    if (mapping.Find(name) != nullptr) {
      diagnostics_.Error(key_where, "duplicate key '" + name + "'");
      return;
    }
    ConfigNode converted = Convert(value);
    converted.key_where = key_where;
    // An empty value (`key:`) has no mark of its own; point just after the key.
    if (converted.where.line == 0) {
      converted.where = {key_where.line, key_where.column + key_where.length + 1, 1};
    }
    mapping.entries.emplace_back(name, std::move(converted));
  }

  Diagnostics& diagnostics_;
};

}  // namespace

std::optional<ConfigNode> ParseYaml(std::string_view source, Diagnostics& diagnostics) {
  try {
    YAML::Node root = YAML::Load(std::string(source));
    const size_t errors_before = diagnostics.size();
    Converter converter(diagnostics);
    ConfigNode node = converter.Convert(root);
    // A duplicate or non-scalar key was reported: the tree is incomplete.
    if (diagnostics.size() != errors_before) return std::nullopt;
    if (node.where.line == 0) node.where = {1, 1, 1};
    return node;
  } catch (const YAML::Exception& error) {
    // error.msg is the bare reason; error.what() repeats the position.
    diagnostics.Error(ToLocation(error.mark), "invalid YAML: " + error.msg);
    return std::nullopt;
  }
}

std::optional<std::string> ReadTextFile(const std::string& path, Diagnostics& diagnostics) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    diagnostics.Error({}, std::string("cannot read file: ") + std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace flowrun
