// JSON Schema (draft 2020-12) for structured model output: a schema is
// compiled once (keywords checked, $refs resolved, patterns compiled), then
// instances are validated against it with short, exact, one-line messages
// that name the instance path and the keyword, so they can go back to a
// model to fix its JSON and to users in errors.
//
// Keywords that validate:
//   type (a name or a list; "integer" accepts 1.0), enum, const (JSON
//   equality, 1 == 1.0), properties, patternProperties, required,
//   additionalProperties (bool or schema), prefixItems, items (the items
//   after prefixItems), minItems, maxItems, minLength, maxLength (in code
//   points), pattern (an unanchored PCRE2 search, UTF and UCP: \d and \w
//   take Unicode digits and letters, unlike ECMA-262), minimum, maximum,
//   exclusiveMinimum, exclusiveMaximum, multipleOf, allOf, anyOf, oneOf, not, $ref,
//   and the boolean schemas true and false.
// Keywords that structure: $defs and definitions (schemas $ref points
//   into), $id (a base URI for the $refs inside it), $anchor ("#name").
//   $ref resolves within the schema only: "#", "#/$defs/x", JSON pointers
//   with ~0 ~1 and %-escapes, anchors, and URIs that an $id in the schema
//   declares. A remote $ref is a compile problem.
// Annotations, accepted and ignored: title, description, examples,
//   default, $schema, $comment, $vocabulary, format (an annotation in
//   2020-12), deprecated, readOnly, writeOnly, contentEncoding,
//   contentMediaType, contentSchema, and every keyword that starts with
//   "x-".
// Refused (a compile problem `"uniqueItems" is not supported`):
//   uniqueItems, minProperties, maxProperties, propertyNames,
//   dependentRequired, dependentSchemas, dependencies, contains,
//   minContains, maxContains, if, then, else, unevaluatedProperties,
//   unevaluatedItems, additionalItems, $dynamicRef, $dynamicAnchor,
//   $recursiveRef, $recursiveAnchor. Any other keyword is a
//   problem too (`unknown keyword "requird"; did you mean "required"?`), so
//   a typo never loosens a schema silently.
//
// Bounds: validation applies subschemas at most kMaxSchemaDepth deep (a
// `{"$ref": "#"}` loop stops there with a `depth` violation), which also
// bounds recursion into the instance, and at most kMaxValidationSteps
// times in all (a `steps` violation: enough for a 1 MiB reply against a
// plain schema; a schema whose anyOf branches multiply over a deep instance
// stops there instead of running for ever); a pattern search stops at PCRE2's
// match, depth and heap limits and is then a `pattern` violation naming
// the limit. Schemas nested deeper than kMaxSchemaDepth do not compile.
//
// Thread-safety: CompileJsonSchema and Validate are reentrant; a
// CompiledSchema is immutable and may be shared by any number of threads
// validating at once.
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace flowrun {

class CompiledSchema;

inline constexpr size_t kMaxSchemaDepth = 128;
// Subschema applications in one Validate call, however the schema branches.
inline constexpr size_t kMaxValidationSteps = 1'000'000;

// A key or an index, for a location inside a JSON document.
using JsonPathElement = std::variant<std::string, size_t>;

// A problem in the schema itself, found by CompileJsonSchema.
struct SchemaProblem {
  std::vector<JsonPathElement> location;  // into the schema: {"properties", "age", "minimum"}
  std::string path;                       // the same, written: properties.age.minimum ("" is the root)
  std::string message;                    // "minimum" must be a number
};

// "properties.age.minimum: "minimum" must be a number", or the message alone at the root.
std::string FormatSchemaProblem(const SchemaProblem& problem);

struct SchemaCompileResult {
  std::shared_ptr<const CompiledSchema> schema;  // null when there are problems
  std::vector<SchemaProblem> problems;           // every problem, in walk order (keys sorted), $refs last

  bool ok() const { return schema != nullptr; }
};

SchemaCompileResult CompileJsonSchema(const nlohmann::json& schema);

// One way an instance breaks the schema.
struct SchemaViolation {
  std::string path;     // into the instance: $, $.category, $.items[0].name, $["odd key"]
  std::string keyword;  // required, enum, type, ... (depth and false are flowrun's own)
  std::string message;  // missing required property "category"
};

// "$: missing required property "category" (required)": one line; values in
// it are abbreviated to about 60 bytes.
std::string FormatViolation(const SchemaViolation& violation);

// The violations of `instance`, at most `max_errors` (the first found, in
// schema order); empty when it is valid.
std::vector<SchemaViolation> Validate(const CompiledSchema& schema, const nlohmann::json& instance,
                                      size_t max_errors = 20);

}  // namespace flowrun
