// ConfigNode: a parsed configuration document (a flow file) as a tree that
// remembers where every key and value was written, so later stages can
// report errors at the right line and column without knowing about YAML.
// A plain value type; immutable after loading, safe to share read-only
// between threads.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/diagnostics.h"

namespace flowrun {

struct ConfigEntry;

struct ConfigNode {
  enum class Kind { kNull, kScalar, kSequence, kMapping };

  Kind kind = Kind::kNull;
  nlohmann::json scalar;  // string, number, boolean or null for kScalar/kNull
  bool quoted = false;    // a quoted scalar stays a string ("1" is not a number)
  SourceLocation where;   // where the value starts
  SourceLocation key_where;  // where its key was written (mapping entries only)
  std::vector<ConfigEntry> entries;  // mapping, in file order
  std::vector<ConfigNode> items;     // sequence

  bool IsMapping() const { return kind == Kind::kMapping; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsString() const { return kind == Kind::kScalar && scalar.is_string(); }

  const ConfigNode* Find(std::string_view key) const;
  // The value as JSON (mappings become objects, sequences arrays).
  nlohmann::json ToJson() const;
  // What a user would call this value's type in an error message.
  std::string TypeName() const;
};

// One mapping entry. Not std::pair<std::string, ConfigNode>: clang with
// libstdc++ 12 rejects that pair inside ConfigNode (its C++20 default
// constructor's explicit(...) check recurses into the incomplete pair).
struct ConfigEntry {
  ConfigEntry(std::string entry_name, ConfigNode entry_value)
      : name(std::move(entry_name)), value(std::move(entry_value)) {}
  std::string name;
  ConfigNode value;
};

inline const ConfigNode* ConfigNode::Find(std::string_view key) const {
  for (const auto& [name, value] : entries) {
    if (name == key) return &value;
  }
  return nullptr;
}

// The value as JSON (mappings become objects, sequences arrays).
inline nlohmann::json ConfigNode::ToJson() const {
  switch (kind) {
    case Kind::kNull:
      return nullptr;
    case Kind::kScalar:
      return scalar;
    case Kind::kSequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : items) array.push_back(item.ToJson());
      return array;
    }
    case Kind::kMapping: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [name, value] : entries) object[name] = value.ToJson();
      return object;
    }
  }
  return nullptr;
}

// What a user would call this value's type in an error message.
inline std::string ConfigNode::TypeName() const {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kSequence:
      return "a list";
    case Kind::kMapping:
      return "a mapping";
    case Kind::kScalar:
      if (scalar.is_string()) return "a string";
      if (scalar.is_boolean()) return "a boolean";
      return "a number";
  }
  return "a value";
}

}  // namespace flowrun
