// Internal to src/config: the first document of a YAML text read through
// yaml-cpp's event parser into a flat graph, with aliases kept as references
// (never copied here) and with the flow-file limits enforced while parsing:
// nodes and scalar text with aliases expanded, nesting depth (also through
// aliases), and recursive aliases. Parsing stops at the first limit reached,
// so a YAML bomb costs no more than the limit. Not thread-safe per graph;
// independent calls may run on any threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostics.h"

namespace flowrun {

struct YamlGraphNode {
  enum class Kind { kNull, kScalar, kSequence, kMapping, kAlias };

  Kind kind = Kind::kNull;
  SourceLocation where;       // where the node (or the alias) was written; line 0: unknown
  bool quoted = false;        // a quoted or block scalar (yaml-cpp's "!" tag)
  std::string text;           // kScalar: the value
  std::vector<uint32_t> children;  // kSequence: items; kMapping: key, value, key, value, ...
  uint32_t target = 0;        // kAlias: the node it refers to (always complete)
};

struct YamlGraph {
  std::vector<YamlGraphNode> nodes;
  std::optional<uint32_t> root;  // nullopt: an empty document
};

// nullopt (with a diagnostic in `diagnostics`) on a syntax error or a limit
// reached. Does not check the size of `source`; the caller does.
std::optional<YamlGraph> ReadYamlGraph(std::string_view source, Diagnostics& diagnostics);

}  // namespace flowrun
