// YamlGraph -> ConfigNode: scalars typed, aliases expanded (within the
// limits the graph was read under), keys checked.
#include "config/yaml_loader.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "config/flow_file_limits.h"
#include "config/yaml_graph.h"

namespace flowrun {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Digits from `at`; returns how many.
size_t SkipDigits(std::string_view text, size_t& at) {
  const size_t start = at;
  while (at < text.size() && IsDigit(text[at])) ++at;
  return at - start;
}

// [-+]?[0-9]+ (hand-written: std::regex recurses per character and
// overflows the stack on a long scalar).
bool IsInteger(std::string_view text) {
  size_t at = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  return SkipDigits(text, at) > 0 && at == text.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsFloat(std::string_view text) {
  size_t at = !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  const size_t whole = SkipDigits(text, at);
  if (at < text.size() && text[at] == '.') {
    ++at;
    if (SkipDigits(text, at) == 0 && whole == 0) return false;
  } else if (whole == 0) {
    return false;
  }
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '-' || text[at] == '+')) ++at;
    if (SkipDigits(text, at) == 0) return false;
  }
  return at == text.size();
}

nlohmann::json PlainScalarToJson(const std::string& text) {
  if (text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (IsInteger(text)) {
    errno = 0;
    long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return value;
  }
  if (IsFloat(text)) {
    double value = std::strtod(text.c_str(), nullptr);
    if (std::isfinite(value)) return value;
  }
  return text;
}

class Converter {
 public:
  Converter(const YamlGraph& graph, Diagnostics& diagnostics) : graph_(graph), diagnostics_(diagnostics) {}

  // Recursion is bounded: the graph was read with nesting (through aliases
  // too) under kMaxYamlDepth.
  ConfigNode Convert(uint32_t index) {
    const YamlGraphNode& node = Resolve(index);
    ConfigNode out;
    out.where = node.where;
    switch (node.kind) {
      case YamlGraphNode::Kind::kNull:
      case YamlGraphNode::Kind::kAlias:
        out.kind = ConfigNode::Kind::kNull;
        break;
      case YamlGraphNode::Kind::kScalar:
        out.kind = ConfigNode::Kind::kScalar;
        out.quoted = node.quoted;
        out.scalar = node.quoted ? nlohmann::json(node.text) : PlainScalarToJson(node.text);
        if (out.scalar.is_null()) out.kind = ConfigNode::Kind::kNull;
        break;
      case YamlGraphNode::Kind::kSequence:
        out.kind = ConfigNode::Kind::kSequence;
        out.items.reserve(node.children.size());
        for (uint32_t child : node.children) out.items.push_back(Convert(child));
        break;
      case YamlGraphNode::Kind::kMapping: {
        out.kind = ConfigNode::Kind::kMapping;
        std::unordered_set<std::string> names;
        for (size_t i = 0; i + 1 < node.children.size(); i += 2) {
          AddEntry(node.children[i], node.children[i + 1], names, out);
        }
        break;
      }
    }
    return out;
  }

 private:
  // An alias stands for the node it refers to (shown at that node's place,
  // where its text is written).
  const YamlGraphNode& Resolve(uint32_t index) const {
    const YamlGraphNode& node = graph_.nodes[index];
    return node.kind == YamlGraphNode::Kind::kAlias ? graph_.nodes[node.target] : node;
  }

  void AddEntry(uint32_t key_index, uint32_t value_index, std::unordered_set<std::string>& names,
                ConfigNode& mapping) {
    const YamlGraphNode& key = Resolve(key_index);
    // Where the key is written (for an alias: the alias itself).
    const SourceLocation key_where = graph_.nodes[key_index].where;
    if (key.kind != YamlGraphNode::Kind::kScalar) {
      diagnostics_.Error(key_where, "a key must be a plain name");
      return;
    }
    if (!names.insert(key.text).second) {
      diagnostics_.Error(key_where, "duplicate key '" + key.text + "'");
      return;
    }
    ConfigNode converted = Convert(value_index);
    converted.key_where = key_where;
    // An empty value (`key:`) has no mark of its own; point just after the key.
    if (converted.where.line == 0) {
      converted.where = {key_where.line, key_where.column + key_where.length + 1, 1};
    }
    mapping.entries.emplace_back(key.text, std::move(converted));
  }

  const YamlGraph& graph_;
  Diagnostics& diagnostics_;
};

}  // namespace

std::optional<ConfigNode> ParseYaml(std::string_view source, Diagnostics& diagnostics) {
  if (source.size() > kMaxFlowFileBytes) {
    diagnostics.Error({}, FileTooLargeMessage(source.size()));
    return std::nullopt;
  }
  std::optional<YamlGraph> graph = ReadYamlGraph(source, diagnostics);
  if (!graph) return std::nullopt;
  if (!graph->root) {  // an empty document
    ConfigNode empty;
    empty.where = {1, 1, 1};
    return empty;
  }
  const size_t errors_before = diagnostics.size();
  ConfigNode node = Converter(*graph, diagnostics).Convert(*graph->root);
  // A duplicate or non-scalar key was reported: the tree is incomplete.
  if (diagnostics.size() != errors_before) return std::nullopt;
  if (node.where.line == 0) node.where = {1, 1, 1};
  return node;
}

}  // namespace flowrun
