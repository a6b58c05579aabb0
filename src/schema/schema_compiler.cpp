// CompileJsonSchema: one walk over the schema builds a Node per subschema,
// checks every keyword's value, compiles patterns and records where each
// subschema can be reached from ($id resources, JSON pointers, anchors);
// $refs are resolved after the walk, when every target exists. Every
// problem is collected; the schema compiles only when there is none.
#include <algorithm>
#include <limits>
#include <set>

#include "core/edit_distance.h"
#include "schema/json_schema.h"
#include "schema/schema_node.h"
#include "schema/schema_uri.h"
#include "schema/schema_values.h"

namespace flowrun {

using nlohmann::json;
using schema_internal::Node;
using schema_internal::PercentDecode;
using schema_internal::ResolveUri;
using schema_internal::SplitFragment;

namespace {

// A base for a schema without $id; never fetched, only a place to resolve against.
constexpr const char* kDefaultBase = "flowrun:///schema.json";

const std::set<std::string>& Annotations() {
  static const std::set<std::string> names = {
      "title",  "description", "examples", "default",    "$schema",         "$comment",         "$vocabulary",
      "format", "deprecated",  "readOnly", "writeOnly",  "contentEncoding", "contentMediaType", "contentSchema",
      "$id",    "$anchor",     "$defs",    "definitions"};
  return names;
}

const std::set<std::string>& Refused() {
  // clang-format off
  static const std::set<std::string> names = {
      "uniqueItems", "minProperties", "maxProperties", "propertyNames", "dependentRequired",
      "dependentSchemas", "dependencies", "contains", "minContains", "maxContains", "if", "then", "else",
      "unevaluatedProperties", "unevaluatedItems", "additionalItems", "$dynamicRef", "$dynamicAnchor",
      "$recursiveRef", "$recursiveAnchor"};
  // clang-format on
  return names;
}

const std::vector<std::pair<std::string, uint8_t>>& TypeNames() {
  using namespace schema_internal;
  static const std::vector<std::pair<std::string, uint8_t>> names = {
      {"null", kNull},     {"boolean", kBoolean}, {"object", kObject},  {"array", kArray},
      {"number", kNumber}, {"string", kString},   {"integer", kInteger}};
  return names;
}

std::string Quote(std::string_view text) { return schema_internal::AbbreviateValue(json(std::string(text))); }

std::string Suggestion(std::string_view name, const std::vector<std::string>& candidates) {
  auto match = ClosestMatch(name, candidates);
  return match ? "; did you mean " + Quote(*match) + "?" : "";
}

}  // namespace

std::string FormatSchemaProblem(const SchemaProblem& problem) {
  return problem.path.empty() ? problem.message : problem.path + ": " + problem.message;
}

class SchemaCompiler {
 public:
  SchemaCompileResult Run(const json& schema) {
    schema_ = std::shared_ptr<CompiledSchema>(new CompiledSchema());
    Compile(schema, kDefaultBase, 0);
    ResolveRefs();
    if (!problems_.empty()) return {nullptr, std::move(problems_)};
    return {std::move(schema_), {}};
  }

 private:
  struct Scope {
    std::string uri;       // the resource's absolute URI, without fragment
    size_t pointer_start;  // where its root is in pointer_
  };
  struct PendingRef {
    Node* node;
    std::string ref, base;
    std::vector<JsonPathElement> path;
  };

  void Problem(std::string message) {
    problems_.push_back({path_, schema_internal::FormatSchemaPath(path_), std::move(message)});
  }

  // Enters `element` of the schema document (path and JSON pointer) for `body`.
  template <typename Body>
  void Within(const JsonPathElement& element, Body&& body) {
    const size_t pointer_size = pointer_.size();
    pointer_ += "/";
    if (const auto* index = std::get_if<size_t>(&element)) {
      pointer_ += std::to_string(*index);
    } else {
      pointer_ += schema_internal::EscapePointerToken(std::get<std::string>(element));
    }
    path_.push_back(element);
    body();
    path_.pop_back();
    pointer_.resize(pointer_size);
  }

  // A keyword's subschema; `what` names it in the message when it is not one.
  const Node* Sub(const json& value, const std::string& base, size_t depth, const std::string& what) {
    if (!value.is_object() && !value.is_boolean()) {
      Problem(what + " must be an object or a boolean");
      return &schema_->nodes_.emplace_back();
    }
    return Compile(value, base, depth + 1);
  }

  void Register(const std::string& fragment_name, Node* node, const std::string& uri) {
    locations_.emplace(uri + "#" + fragment_name, node);
    candidates_[uri].push_back("#" + fragment_name);
  }

  Node* Compile(const json& value, std::string base, size_t depth) {
    Node* node = &schema_->nodes_.emplace_back();
    if (depth > kMaxSchemaDepth) {
      Problem("schema nesting deeper than " + std::to_string(kMaxSchemaDepth));
      return node;
    }
    if (!value.is_object() && !value.is_boolean()) {
      Problem("a schema must be an object or a boolean");
      return node;
    }
    const size_t scopes_size = scopes_.size();
    if (value.is_object()) DeclareResource(value, node, &base);
    for (const auto& scope : scopes_) Register(pointer_.substr(scope.pointer_start), node, scope.uri);
    if (value.is_boolean()) {
      node->is_boolean = true;
      node->boolean_value = value.get<bool>();
    } else {
      for (auto it = value.begin(); it != value.end(); ++it) {  // no structured bindings: clang 14 cannot capture them
        const std::string& key = it.key();
        const json& member = it.value();
        Within(key, [&] { Keyword(node, key, member, base, depth); });
      }
    }
    scopes_.resize(scopes_size);
    return node;
  }

  // $id (a new resource and base URI) and $anchor, before the keywords use the base.
  void DeclareResource(const json& value, Node* node, std::string* base) {
    if (auto id = value.find("$id"); id != value.end()) {
      Within(std::string("$id"), [&] {
        std::string uri, fragment;
        if (!id->is_string()) {
          Problem("\"$id\" must be a string");
        } else if (SplitFragment(ResolveUri(*base, id->get<std::string>()), &uri, &fragment); !fragment.empty()) {
          Problem("\"$id\" must not have a fragment");
        } else {
          *base = uri;
        }
      });
    }
    if (scopes_.empty() || scopes_.back().uri != *base) scopes_.push_back({*base, pointer_.size()});
    if (auto anchor = value.find("$anchor"); anchor != value.end()) {
      Within(std::string("$anchor"), [&] {
        if (!anchor->is_string() || anchor->get<std::string>().empty()) {
          Problem("\"$anchor\" must be a name");
        } else {
          Register(anchor->get<std::string>(), node, *base);
        }
      });
    }
  }

  void Keyword(Node* node, const std::string& key, const json& value, const std::string& base, size_t depth) {
    const std::string quoted = "\"" + key + "\"";
    auto sub_map = [&](std::map<std::string, const Node*>* out) {
      if (!value.is_object()) return Problem(quoted + " must be an object");
      for (auto it = value.begin(); it != value.end(); ++it) {
        const std::string& name = it.key();
        const json& member = it.value();
        Within(name, [&] {
          const Node* child = Sub(member, base, depth, "a schema");
          if (out != nullptr) (*out)[name] = child;
        });
      }
    };
    auto sub_list = [&](std::vector<const Node*>* out) {
      if (!value.is_array() || value.empty()) return Problem(quoted + " must be a non-empty list of schemas");
      for (size_t i = 0; i < value.size(); ++i) {
        Within(i, [&] { out->push_back(Sub(value[i], base, depth, "a schema")); });
      }
    };
    auto number = [&](std::optional<json>* out) {
      if (!value.is_number()) return Problem(quoted + " must be a number");
      *out = value;
    };
    auto count = [&](std::optional<uint64_t>* out) {
      if (!value.is_number() || !schema_internal::IsIntegral(value) || value < 0) {
        return Problem(quoted + " must be a non-negative integer");
      }
      const double big = static_cast<double>(std::numeric_limits<uint64_t>::max());
      *out = value.is_number_float() ? (value.get<double>() >= big ? std::numeric_limits<uint64_t>::max()
                                                                   : static_cast<uint64_t>(value.get<double>()))
                                     : value.get<uint64_t>();
    };

    if (key == "type") return Type(node, value);
    if (key == "enum") {
      if (!value.is_array()) return Problem("\"enum\" must be a list");
      node->enum_values = value.get<std::vector<json>>();
      return;
    }
    if (key == "const") {
      node->const_value = value;
      return;
    }
    if (key == "properties") return sub_map(&node->properties);
    if (key == "$defs" || key == "definitions") return sub_map(nullptr);
    if (key == "patternProperties") return PatternProperties(node, value, base, depth);
    if (key == "additionalProperties") {
      node->additional_properties = Sub(value, base, depth, quoted);
      return;
    }
    if (key == "required") {
      bool strings = value.is_array();
      for (const auto& name : value) strings = strings && name.is_string();
      if (!strings) return Problem("\"required\" must be a list of strings");
      node->required = value.get<std::vector<std::string>>();
      return;
    }
    if (key == "prefixItems") return sub_list(&node->prefix_items);
    if (key == "items") {
      node->items = Sub(value, base, depth, quoted);
      return;
    }
    if (key == "minItems") return count(&node->min_items);
    if (key == "maxItems") return count(&node->max_items);
    if (key == "minLength") return count(&node->min_length);
    if (key == "maxLength") return count(&node->max_length);
    if (key == "pattern") {
      if (!value.is_string()) return Problem("\"pattern\" must be a string");
      node->pattern = CompilePattern(value.get<std::string>());
      return;
    }
    if (key == "minimum") return number(&node->minimum);
    if (key == "maximum") return number(&node->maximum);
    if (key == "exclusiveMinimum") return number(&node->exclusive_minimum);
    if (key == "exclusiveMaximum") return number(&node->exclusive_maximum);
    if (key == "multipleOf") {
      if (!value.is_number() || value <= 0) return Problem("\"multipleOf\" must be a number greater than 0");
      node->multiple_of = value;
      return;
    }
    if (key == "allOf") return sub_list(&node->all_of);
    if (key == "anyOf") return sub_list(&node->any_of);
    if (key == "oneOf") return sub_list(&node->one_of);
    if (key == "not") {
      node->not_schema = Sub(value, base, depth, quoted);
      return;
    }
    if (key == "$ref") {
      if (!value.is_string()) return Problem("\"$ref\" must be a string");
      refs_.push_back({node, value.get<std::string>(), base, path_});
      return;
    }
    if (Annotations().count(key) != 0 || key.rfind("x-", 0) == 0) return;
    if (Refused().count(key) != 0) return Problem(quoted + " is not supported");
    std::vector<std::string> known = {"type",
                                      "enum",
                                      "const",
                                      "properties",
                                      "patternProperties",
                                      "additionalProperties",
                                      "required",
                                      "prefixItems",
                                      "items",
                                      "minItems",
                                      "maxItems",
                                      "minLength",
                                      "maxLength",
                                      "pattern",
                                      "minimum",
                                      "maximum",
                                      "exclusiveMinimum",
                                      "exclusiveMaximum",
                                      "multipleOf",
                                      "allOf",
                                      "anyOf",
                                      "oneOf",
                                      "not",
                                      "$ref"};
    known.insert(known.end(), Annotations().begin(), Annotations().end());
    known.insert(known.end(), Refused().begin(), Refused().end());
    Problem("unknown keyword " + Quote(key) + Suggestion(key, known));
  }

  void Type(Node* node, const json& value) {
    auto add = [&](const json& name) {
      if (!name.is_string()) return Problem("\"type\" must be a type name or a list of type names");
      const std::string text = name.get<std::string>();
      std::vector<std::string> candidates;
      for (const auto& [type_name, bit] : TypeNames()) {
        if (type_name == text) {
          node->types |= bit;
          return;
        }
        candidates.push_back(type_name);
      }
      Problem("unknown type " + Quote(text) + Suggestion(text, candidates));
    };
    if (!value.is_array()) return add(value);
    if (value.empty()) return Problem("\"type\" must be a type name or a list of type names");
    for (size_t i = 0; i < value.size(); ++i) Within(i, [&] { add(value[i]); });
  }

  std::optional<schema_internal::Pattern> CompilePattern(const std::string& source) {
    std::string error;
    auto regex = schema_internal::SchemaRegex::Compile(source, &error);
    if (regex == nullptr) {
      Problem("invalid pattern " + Quote(source) + ": " + error);
      return std::nullopt;
    }
    return schema_internal::Pattern{source, std::move(regex)};
  }

  void PatternProperties(Node* node, const json& value, const std::string& base, size_t depth) {
    if (!value.is_object()) return Problem("\"patternProperties\" must be an object");
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string& source = it.key();
      const json& member = it.value();
      Within(source, [&] {
        auto pattern = CompilePattern(source);
        const Node* child = Sub(member, base, depth, "a schema");
        if (pattern) node->pattern_properties.emplace_back(std::move(*pattern), child);
      });
    }
  }

  void ResolveRefs() {
    for (const auto& pending : refs_) {
      std::string uri, fragment;
      SplitFragment(ResolveUri(pending.base, pending.ref), &uri, &fragment);
      auto target = locations_.find(uri + "#" + PercentDecode(fragment));
      if (target != locations_.end()) {
        pending.node->ref = target->second;
        continue;
      }
      path_ = pending.path;
      std::string hint;
      if (!pending.ref.empty() && pending.ref[0] == '#') hint = Suggestion(pending.ref, candidates_[uri]);
      Problem("$ref " + Quote(pending.ref) + " does not resolve" + hint);
    }
  }

  std::shared_ptr<CompiledSchema> schema_;
  std::vector<JsonPathElement> path_;
  std::string pointer_;  // JSON pointer of the current subschema from the document root
  std::vector<Scope> scopes_;
  std::map<std::string, const Node*> locations_;  // "uri#/pointer" and "uri#anchor"
  std::map<std::string, std::vector<std::string>> candidates_;
  std::vector<PendingRef> refs_;
  std::vector<SchemaProblem> problems_;
};

SchemaCompileResult CompileJsonSchema(const json& schema) { return SchemaCompiler().Run(schema); }

}  // namespace flowrun
