// The compiled form of a JSON Schema: one Node per subschema, each keyword
// already checked and decoded, $refs as pointers to their target Node (so
// validation never looks a name up). Internal to src/schema/.
// Thread-safety: built once by the compiler, immutable afterwards.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "schema/json_schema.h"
#include "schema/schema_regex.h"

namespace flowrun {
namespace schema_internal {

// Bits of Node::types, one per JSON Schema type name.
enum TypeBit : uint8_t {
  kNull = 1 << 0,
  kBoolean = 1 << 1,
  kObject = 1 << 2,
  kArray = 1 << 3,
  kNumber = 1 << 4,
  kString = 1 << 5,
  kInteger = 1 << 6,
};

struct Pattern {
  std::string source;
  std::unique_ptr<SchemaRegex> regex;
};

struct Node {
  // A boolean schema: true accepts everything, false nothing; no keywords.
  bool is_boolean = false;
  bool boolean_value = true;

  uint8_t types = 0;  // 0: no `type` keyword
  std::optional<std::vector<nlohmann::json>> enum_values;
  std::optional<nlohmann::json> const_value;

  std::map<std::string, const Node*> properties;
  std::vector<std::pair<Pattern, const Node*>> pattern_properties;
  const Node* additional_properties = nullptr;
  std::vector<std::string> required;

  std::vector<const Node*> prefix_items;
  const Node* items = nullptr;
  std::optional<uint64_t> min_items, max_items;

  std::optional<uint64_t> min_length, max_length;
  std::optional<Pattern> pattern;

  std::optional<nlohmann::json> minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;

  std::vector<const Node*> all_of, any_of, one_of;
  const Node* not_schema = nullptr;
  const Node* ref = nullptr;  // resolved by the compiler after every node exists
};

}  // namespace schema_internal

class CompiledSchema {
 public:
  const schema_internal::Node& root() const { return nodes_.front(); }

 private:
  friend class SchemaCompiler;
  CompiledSchema() = default;                // only the compiler makes one, never empty
  std::deque<schema_internal::Node> nodes_;  // a deque: pointers into it stay valid as it grows
};

}  // namespace flowrun
