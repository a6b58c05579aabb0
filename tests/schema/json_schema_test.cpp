// The JSON Schema validator (src/schema): the exact text of every kind of
// violation and compile problem, paths, the depth, step and regex bounds,
// Unicode lengths, and one compiled schema shared by threads.
#include "schema/json_schema.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace flowrun {
namespace {

using nlohmann::json;

std::shared_ptr<const CompiledSchema> MustCompile(const json& schema) {
  SchemaCompileResult result = CompileJsonSchema(schema);
  std::string problems;
  for (const auto& problem : result.problems) problems += "\n" + FormatSchemaProblem(problem);
  EXPECT_TRUE(result.ok()) << schema.dump() << problems;
  return result.schema;
}

// The formatted violations of `instance` (JSON text) against `schema` (JSON text).
std::vector<std::string> Errors(const std::string& schema, const std::string& instance, size_t max_errors = 20) {
  auto compiled = MustCompile(json::parse(schema));
  if (!compiled) return {"(no schema)"};
  std::vector<std::string> out;
  for (const auto& violation : Validate(*compiled, json::parse(instance), max_errors)) {
    out.push_back(FormatViolation(violation));
  }
  return out;
}

std::vector<std::string> Problems(const std::string& schema) {
  std::vector<std::string> out;
  for (const auto& problem : CompileJsonSchema(json::parse(schema)).problems)
    out.push_back(FormatSchemaProblem(problem));
  return out;
}

using Lines = std::vector<std::string>;

TEST(JsonSchema, TheMessagesAModelGetsBack) {
  const std::string schema = R"({
    "type": "object",
    "properties": {
      "category": {"enum": ["billing", "tech"]},
      "confidence": {"type": "number", "minimum": 0, "maximum": 1},
      "tags": {"type": "array", "maxItems": 3},
      "name": {"type": "string"}
    },
    "required": ["category", "confidence"]
  })";
  EXPECT_EQ(Errors(schema, R"({"confidence": 1.4})"),
            (Lines{"$: missing required property \"category\" (required)",
                   "$.confidence: 1.4 is greater than the maximum 1 (maximum)"}));
  EXPECT_EQ(
      Errors(schema, R"({"category": "sales", "confidence": 0.5, "tags": [1, 2, 3, 4, 5], "name": 7})"),
      (Lines{"$.category: \"sales\" is not one of \"billing\", \"tech\" (enum)",
             "$.name: expected a string, got a number (type)", "$.tags: expected at most 3 items, got 5 (maxItems)"}));
  EXPECT_EQ(Errors(schema, R"({"category": "tech", "confidence": 0.9, "tags": ["a"], "name": "x"})"), Lines{});
  EXPECT_EQ(Errors(schema, "[]"), Lines{"$: expected an object, got an array (type)"});
}

TEST(JsonSchema, ViolationFieldsAreSeparate) {
  auto compiled = MustCompile(json::parse(R"({"properties": {"a": {"minLength": 2}}})"));
  auto violations = Validate(*compiled, json::parse(R"({"a": "x"})"));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].path, "$.a");
  EXPECT_EQ(violations[0].keyword, "minLength");
  EXPECT_EQ(violations[0].message, "expected at least 2 characters, got 1");
}

TEST(JsonSchema, Types) {
  EXPECT_EQ(Errors(R"({"type": ["string", "null"]})", "3"), Lines{"$: expected a string or null, got a number (type)"});
  EXPECT_EQ(Errors(R"({"type": ["object", "array", "boolean"]})", "null"),
            Lines{"$: expected an object, an array or a boolean, got null (type)"});
  EXPECT_EQ(Errors(R"({"type": "integer"})", "1.0"), Lines{});
  EXPECT_EQ(Errors(R"({"type": "integer"})", "1.5"), Lines{"$: expected an integer, got a number (type)"});
  EXPECT_EQ(Errors(R"({"type": "integer"})", "true"), Lines{"$: expected an integer, got a boolean (type)"});
  EXPECT_EQ(Errors(R"({"type": ["integer", "number"]})", "\"1\""), Lines{"$: expected a number, got a string (type)"});
  EXPECT_EQ(Errors(R"({"type": "number"})", "{}"), Lines{"$: expected a number, got an object (type)"});
}

TEST(JsonSchema, InstancePaths) {
  const std::string schema = R"({
    "properties": {
      "items": {"items": {"properties": {"name": {"type": "string"}}}},
      "odd key": {"type": "string"},
      "quote\"d": {"type": "string"},
      "_ok9": {"type": "string"}
    }
  })";
  EXPECT_EQ(Errors(schema, R"({"items": [{"name": 1}, {"name": "b"}, {"name": null}]})"),
            (Lines{"$.items[0].name: expected a string, got a number (type)",
                   "$.items[2].name: expected a string, got null (type)"}));
  EXPECT_EQ(
      Errors(schema, R"({"odd key": 1, "quote\"d": 2, "_ok9": 3})"),
      (Lines{"$._ok9: expected a string, got a number (type)", "$[\"odd key\"]: expected a string, got a number (type)",
             "$[\"quote\\\"d\"]: expected a string, got a number (type)"}));
}

TEST(JsonSchema, ALongKeyIsCutInThePath) {
  const std::string key(100, 'k');
  EXPECT_EQ(Errors(R"({"additionalProperties": {"type": "string"}})", "{\"" + key + "\": 1}"),
            Lines{"$[\"" + std::string(56, 'k') + "...\"]: expected a string, got a number (type)"});
}

TEST(JsonSchema, ObjectKeywords) {
  const std::string closed = R"({"properties": {"a": {}}, "patternProperties": {"^x-": {"type": "integer"}},
                                  "additionalProperties": false})";
  EXPECT_EQ(Errors(closed, R"({"a": 1, "x-n": 2, "b": 3, "c": 4})"),
            (Lines{"$: property \"b\" is not allowed (additionalProperties)",
                   "$: property \"c\" is not allowed (additionalProperties)"}));
  EXPECT_EQ(Errors(closed, R"({"x-n": "two"})"), Lines{"$[\"x-n\"]: expected an integer, got a string (type)"});
  EXPECT_EQ(Errors(R"({"properties": {"a": {}}, "additionalProperties": {"type": "boolean"}})", R"({"a": 1, "b": 2})"),
            Lines{"$.b: expected a boolean, got a number (type)"});
  EXPECT_EQ(Errors(R"({"properties": {"gone": false}})", R"({"gone": 1})"),
            Lines{"$.gone: no value is allowed here (false)"});
  EXPECT_EQ(Errors(R"({"required": ["a", "b"]})", "[1]"), Lines{});  // required applies to objects only
}

TEST(JsonSchema, ArrayKeywords) {
  const std::string tuple = R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})";
  EXPECT_EQ(Errors(tuple, R"(["a", 1])"), Lines{});
  EXPECT_EQ(Errors(tuple, R"(["a", "b", 3])"),
            (Lines{"$[1]: expected an integer, got a string (type)", "$: expected at most 2 items, got 3 (items)"}));
  EXPECT_EQ(Errors(R"({"prefixItems": [{}], "items": {"type": "null"}})", R"([1, null, 2])"),
            Lines{"$[2]: expected null, got a number (type)"});
  EXPECT_EQ(Errors(R"({"items": false})", "[1]"), Lines{"$: expected at most 0 items, got 1 (items)"});
  EXPECT_EQ(Errors(R"({"minItems": 1})", "[]"), Lines{"$: expected at least 1 item, got 0 (minItems)"});
  EXPECT_EQ(Errors(R"({"maxItems": 1})", "[1, 2]"), Lines{"$: expected at most 1 item, got 2 (maxItems)"});
}

TEST(JsonSchema, EnumAndConst) {
  EXPECT_EQ(Errors(R"({"const": {"a": 1}})", R"({"a": 1.0})"), Lines{});
  EXPECT_EQ(Errors(R"({"const": {"a": 1}})", R"({"a": 2})"), Lines{"$: expected {\"a\":1}, got {\"a\":2} (const)"});
  EXPECT_EQ(Errors(R"({"const": 1})", "true"), Lines{"$: expected 1, got true (const)"});
  EXPECT_EQ(Errors(R"({"enum": [1, "a", null]})", "1.0"), Lines{});
  EXPECT_EQ(Errors(R"({"enum": [false]})", "0"), Lines{"$: 0 is not one of false (enum)"});
  EXPECT_EQ(Errors(R"({"enum": []})", "0"), Lines{"$: no value is allowed (the enum is empty) (enum)"});
}

TEST(JsonSchema, LongValuesAreAbbreviated) {
  const std::string long_text(200, 'x');
  const auto errors = Errors(R"({"enum": ["a"]})", "\"" + long_text + "\"");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "$: \"" + std::string(56, 'x') + "... is not one of \"a\" (enum)");
  // Never inside a UTF-8 sequence: 40 two-byte characters cut at 57 bytes keep 28 of them.
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\xC3\xA9";
  std::string kept;
  for (int i = 0; i < 28; ++i) kept += "\xC3\xA9";
  EXPECT_EQ(Errors(R"({"const": 0})", "\"" + accents + "\""), Lines{"$: expected 0, got \"" + kept + "... (const)"});
  // A long enum list stops after about 120 bytes.
  json many = json::array();
  for (int i = 0; i < 50; ++i) many.push_back("value-" + std::to_string(i));
  const auto listed = Errors(json{{"enum", many}}.dump(), "\"other\"");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_LT(listed[0].size(), 200u) << listed[0];
  EXPECT_NE(listed[0].find(", ... (enum)"), std::string::npos) << listed[0];
}

TEST(JsonSchema, NumberKeywords) {
  EXPECT_EQ(Errors(R"({"minimum": 0})", "-1"), Lines{"$: -1 is less than the minimum 0 (minimum)"});
  EXPECT_EQ(Errors(R"({"minimum": 0})", "0"), Lines{});
  EXPECT_EQ(Errors(R"({"exclusiveMinimum": 0})", "0"),
            Lines{"$: 0 is not greater than the exclusive minimum 0 (exclusiveMinimum)"});
  EXPECT_EQ(Errors(R"({"exclusiveMaximum": 1.5})", "1.5"),
            Lines{"$: 1.5 is not less than the exclusive maximum 1.5 (exclusiveMaximum)"});
  EXPECT_EQ(Errors(R"({"maximum": 18446744073709551615})", "18446744073709551615"), Lines{});
  EXPECT_EQ(Errors(R"({"maximum": -9223372036854775808})", "18446744073709551615"),
            Lines{"$: 18446744073709551615 is greater than the maximum -9223372036854775808 (maximum)"});
  EXPECT_EQ(Errors(R"({"multipleOf": 0.0001})", "0.0075"), Lines{});
  EXPECT_EQ(Errors(R"({"multipleOf": 2})", "-7"), Lines{"$: -7 is not a multiple of 2 (multipleOf)"});
  EXPECT_EQ(Errors(R"({"minimum": 5})", "\"3\""), Lines{});  // applies to numbers only
}

TEST(JsonSchema, StringLengthsCountCodePoints) {
  EXPECT_EQ(Errors(R"({"maxLength": 2})", "\"\\ud83d\\udca9\\ud83d\\udca9\""), Lines{});  // 8 bytes, 2 code points
  EXPECT_EQ(Errors(R"({"minLength": 3})", "\"日本\""), Lines{"$: expected at least 3 characters, got 2 (minLength)"});
  EXPECT_EQ(Errors(R"({"maxLength": 1})", "\"héllo\""), Lines{"$: expected at most 1 character, got 5 (maxLength)"});
}

TEST(JsonSchema, Patterns) {
  EXPECT_EQ(Errors(R"({"pattern": "b+"})", "\"abbc\""), Lines{});  // unanchored
  EXPECT_EQ(Errors(R"({"pattern": "^[a-z]+$"})", "\"abc1\""),
            Lines{"$: \"abc1\" does not match the pattern \"^[a-z]+$\" (pattern)"});
  EXPECT_EQ(Errors(R"({"pattern": "^\\p{Letter}+$"})", "\"héllo\""), Lines{});
  EXPECT_EQ(Errors(R"({"pattern": "^\\P{gc=Letter}$"})", "\"é\""),
            Lines{"$: \"é\" does not match the pattern \"^\\\\P{gc=Letter}$\" (pattern)"});
  EXPECT_EQ(Errors(R"({"pattern": "^a$"})", "\"a\\n\""),
            Lines{"$: \"a\\n\" does not match the pattern \"^a$\" (pattern)"});  // $ only at the end, as in ECMA-262
  EXPECT_EQ(Errors(R"({"pattern": "^\\u00e9$"})", "\"é\""), Lines{});
}

TEST(JsonSchema, ACatastrophicPatternGivesUpQuicklyWithAClearResult) {
  auto compiled = MustCompile(json::parse(R"({"pattern": "^(a+)+$"})"));
  ASSERT_TRUE(compiled);
  const json reply = std::string(100000, 'a') + "b";
  const auto start = std::chrono::steady_clock::now();
  const auto violations = Validate(*compiled, reply);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(10)) << "the match limit did not stop the search";
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(FormatViolation(violations[0]),
            "$: could not match \"" + std::string(56, 'a') +
                "... against the pattern \"^(a+)+$\": the regex match limit (1000000) was reached (pattern)");
}

TEST(JsonSchema, Combinators) {
  const std::string any = R"({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 10}]})";
  EXPECT_EQ(Errors(any, "\"x\""), Lines{});
  EXPECT_EQ(Errors(any, "12"), Lines{});
  EXPECT_EQ(Errors(any, "3"), Lines{"$: matches none of the 2 alternatives (anyOf)"});
  const std::string one = R"({"oneOf": [{"type": "integer"}, {"minimum": 2}, {"type": "string"}]})";
  EXPECT_EQ(Errors(one, "1"), Lines{});
  EXPECT_EQ(Errors(one, "3"), Lines{"$: matches more than one of the 3 alternatives (oneOf)"});
  EXPECT_EQ(Errors(one, "1.5"), Lines{"$: matches none of the 3 alternatives (oneOf)"});
  EXPECT_EQ(Errors(R"({"not": {"type": "null"}})", "null"), Lines{"$: must not match the schema in \"not\" (not)"});
  EXPECT_EQ(Errors(R"({"allOf": [{"minimum": 2}, {"maximum": 1}]})", "5"),
            Lines{"$: 5 is greater than the maximum 1 (maximum)"});
}

TEST(JsonSchema, BooleanSchemas) {
  EXPECT_EQ(Errors("true", R"({"any": [1]})"), Lines{});
  EXPECT_EQ(Errors("false", "1"), Lines{"$: no value is allowed here (false)"});
}

TEST(JsonSchema, References) {
  const std::string schema = R"({
    "$defs": {"Address": {"type": "object", "required": ["city"]}, "tilde~slash/": {"type": "string"}},
    "definitions": {"percent%": {"type": "integer"}},
    "properties": {
      "home": {"$ref": "#/$defs/Address"},
      "odd": {"$ref": "#/$defs/tilde~0slash~1"},
      "pct": {"$ref": "#/definitions/percent%25"},
      "anchored": {"$ref": "#short"}
    },
    "$anchor": "short",
    "type": "object"
  })";
  EXPECT_EQ(
      Errors(schema, R"({"home": {}, "odd": 1, "pct": "x", "anchored": 2})"),
      (Lines{"$.anchored: expected an object, got a number (type)",
             "$.home: missing required property \"city\" (required)", "$.odd: expected a string, got a number (type)",
             "$.pct: expected an integer, got a string (type)"}));
  const std::string tree = R"({"type": "object", "properties": {"value": {"type": "integer"},
                                "children": {"type": "array", "items": {"$ref": "#"}}}})";
  EXPECT_EQ(Errors(tree, R"({"value": 1, "children": [{"value": 2, "children": [{"value": "x"}]}]})"),
            Lines{"$.children[0].children[0].value: expected an integer, got a string (type)"});
}

TEST(JsonSchema, ARefCycleThatConsumesNothingStopsAtTheDepthBound) {
  EXPECT_EQ(Errors(R"({"$ref": "#"})", "1"), Lines{"$: schema nesting deeper than 128 (depth)"});
  EXPECT_EQ(Errors(R"({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}},
                      "$ref": "#/$defs/a"})",
                   "{}"),
            Lines{"$: schema nesting deeper than 128 (depth)"});
}

TEST(JsonSchema, ADeepInstanceStopsAtTheDepthBound) {
  json deep = 1;
  for (int i = 0; i < 100000; ++i) deep = json::array({std::move(deep)});
  auto compiled = MustCompile(json::parse(R"({"type": "array", "items": {"$ref": "#"}})"));
  ASSERT_TRUE(compiled);
  const auto violations = Validate(*compiled, deep);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].keyword, "depth");
  EXPECT_EQ(violations[0].message, "schema nesting deeper than 128");
  std::string path = "$";
  // Two subschemas a level (items, then $ref): depth 129 is at the 65th.
  for (int i = 0; i < 65; ++i) path += "[0]";
  EXPECT_EQ(violations[0].path, path);
}

TEST(JsonSchema, ASchemaThatBranchesOverADeepInstanceStopsAtTheStepBound) {
  // Each level tries both alternatives, each of which recurses into the
  // item before failing: 2^40 checks without the bound.
  auto compiled = MustCompile(json::parse(R"({"$defs": {"a": {"anyOf": [
      {"items": {"$ref": "#/$defs/a"}, "not": {}},
      {"type": "array", "items": {"$ref": "#/$defs/a"}}]}}, "$ref": "#/$defs/a"})"));
  ASSERT_TRUE(compiled);
  json deep = "leaf";
  for (int i = 0; i < 40; ++i) deep = json::array({std::move(deep)});
  const auto start = std::chrono::steady_clock::now();
  const auto violations = Validate(*compiled, deep);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].keyword, "steps");
  EXPECT_EQ(violations[0].message, "validation needs more than 1000000 steps");
}

TEST(JsonSchema, ALargeReplyAgainstAPlainSchemaStaysWithinTheStepBound) {
  // 50 000 items of three properties: about 200 000 steps, a reply of 1 MiB.
  auto compiled = MustCompile(json::parse(R"({"type": "array", "items": {"type": "object", "required": ["a"],
      "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"enum": [true, null]}}}})"));
  ASSERT_TRUE(compiled);
  json reply = json::array();
  for (int i = 0; i < 50000; ++i) reply.push_back({{"a", i}, {"b", "text"}, {"c", nullptr}});
  EXPECT_GT(reply.dump().size(), 1000000u);
  EXPECT_TRUE(Validate(*compiled, reply).empty());
  reply[49999]["a"] = "last";
  const auto violations = Validate(*compiled, reply);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(FormatViolation(violations[0]), "$[49999].a: expected an integer, got a string (type)");
}

TEST(JsonSchema, MaxErrorsCapsTheList) {
  json required = json::array();
  for (int i = 0; i < 30; ++i) required.push_back("p" + std::to_string(i));
  const std::string schema = json{{"required", required}}.dump();
  EXPECT_EQ(Errors(schema, "{}").size(), 20u);
  EXPECT_EQ(Errors(schema, "{}", 3),
            (Lines{"$: missing required property \"p0\" (required)", "$: missing required property \"p1\" (required)",
                   "$: missing required property \"p2\" (required)"}));
  EXPECT_EQ(Errors(schema, "{}", 0).size(), 1u);  // 0 still says why
}

TEST(JsonSchema, CompileProblemsNameTheSchemaPath) {
  EXPECT_EQ(Problems(R"({"properties": {"age": {"minimum": "0"}}})"),
            Lines{"properties.age.minimum: \"minimum\" must be a number"});
  EXPECT_EQ(Problems(R"({"$defs": {"Address": {}}, "properties": {"home": {"$ref": "#/$defs/Adress"}}})"),
            Lines{"properties.home.$ref: $ref \"#/$defs/Adress\" does not resolve; did you mean \"#/$defs/Address\"?"});
  EXPECT_EQ(Problems(R"({"$ref": "https://example.com/other.json"})"),
            Lines{"$ref: $ref \"https://example.com/other.json\" does not resolve"});
  EXPECT_EQ(Problems(R"({"properties": {"code": {"pattern": "(ab"}}})"),
            Lines{"properties.code.pattern: invalid pattern \"(ab\": missing closing parenthesis at offset 3"});
  EXPECT_EQ(Problems(R"({"patternProperties": {"[": true}})"),
            Lines{"patternProperties[\"[\"]: invalid pattern \"[\": missing terminating ] for character class at "
                  "offset 1"});
  EXPECT_EQ(Problems(R"({"properties": {"tags": {"uniqueItems": true}}})"),
            Lines{"properties.tags.uniqueItems: \"uniqueItems\" is not supported"});
  EXPECT_EQ(Problems(R"({"properties": {"name": {"requird": ["x"]}}})"),
            Lines{"properties.name.requird: unknown keyword \"requird\"; did you mean \"required\"?"});
  EXPECT_EQ(Problems(R"({"type": "strng"})"), Lines{"type: unknown type \"strng\"; did you mean \"string\"?"});
  EXPECT_EQ(Problems(R"({"type": ["string", 1]})"),
            Lines{"type[1]: \"type\" must be a type name or a list of type names"});
  EXPECT_EQ(Problems("3"), Lines{"a schema must be an object or a boolean"});
  EXPECT_EQ(Problems(R"({"properties": {"odd key": 3}})"),
            Lines{"properties[\"odd key\"]: a schema must be an object or a boolean"});
  EXPECT_EQ(Problems(R"({"anyOf": [{"type": "string"}, []]})"),
            Lines{"anyOf[1]: a schema must be an object or a boolean"});
  EXPECT_EQ(Problems(R"({"items": 1})"), Lines{"items: \"items\" must be an object or a boolean"});
  EXPECT_EQ(Problems(R"({"oneOf": []})"), Lines{"oneOf: \"oneOf\" must be a non-empty list of schemas"});
  EXPECT_EQ(Problems(R"({"required": "a"})"), Lines{"required: \"required\" must be a list of strings"});
  EXPECT_EQ(Problems(R"({"maxLength": -1})"), Lines{"maxLength: \"maxLength\" must be a non-negative integer"});
  EXPECT_EQ(Problems(R"({"minItems": 1.5})"), Lines{"minItems: \"minItems\" must be a non-negative integer"});
  EXPECT_EQ(Problems(R"({"multipleOf": 0})"), Lines{"multipleOf: \"multipleOf\" must be a number greater than 0"});
  EXPECT_EQ(Problems(R"({"enum": "a"})"), Lines{"enum: \"enum\" must be a list"});
  EXPECT_EQ(Problems(R"({"$ref": 1})"), Lines{"$ref: \"$ref\" must be a string"});
}

TEST(JsonSchema, EveryProblemIsReportedInOnePass) {
  const auto problems = Problems(R"({"minimum": "a", "maximum": "b", "properties": {"x": {"$ref": "#/nowhere"}},
                                     "if": true})");
  EXPECT_EQ(problems,
            (Lines{"if: \"if\" is not supported", "maximum: \"maximum\" must be a number",
                   "minimum: \"minimum\" must be a number", "properties.x.$ref: $ref \"#/nowhere\" does not resolve"}));
  EXPECT_FALSE(CompileJsonSchema(json::parse(R"({"minimum": "a"})")).ok());
}

TEST(JsonSchema, AnnotationsAreAcceptedAndIgnored) {
  const std::string schema = R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.com/s.json",
    "$comment": "c", "title": "t", "description": "d", "examples": [1], "default": 2,
    "format": "email", "deprecated": false, "readOnly": true, "x-order": 3, "type": "string"
  })";
  EXPECT_EQ(Errors(schema, "\"not an email\""), Lines{});
  EXPECT_EQ(Errors(schema, "1"), Lines{"$: expected a string, got a number (type)"});
}

TEST(JsonSchema, ASchemaNestedTooDeeplyDoesNotCompile) {
  json schema = json::object();
  for (int i = 0; i < 200; ++i) schema = json{{"not", std::move(schema)}};
  const auto result = CompileJsonSchema(schema);
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].message, "schema nesting deeper than 128");
  EXPECT_EQ(result.problems[0].location.size(), 129u);
}

TEST(JsonSchema, ProblemLocationsAreElementsToo) {
  const auto result = CompileJsonSchema(json::parse(R"({"anyOf": [{"properties": {"a b": {"minimum": "x"}}}]})"));
  ASSERT_EQ(result.problems.size(), 1u);
  EXPECT_EQ(result.problems[0].path, "anyOf[0].properties[\"a b\"].minimum");
  EXPECT_EQ(result.problems[0].location,
            (std::vector<JsonPathElement>{"anyOf", size_t{0}, "properties", "a b", "minimum"}));
}

TEST(JsonSchema, OneCompiledSchemaIsSharedByThreads) {
  auto compiled = MustCompile(json::parse(R"({"type": "object", "required": ["n"],
      "properties": {"n": {"type": "integer", "maximum": 100}, "s": {"pattern": "^[a-z]+$"}}})"));
  ASSERT_TRUE(compiled);
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const json instance = {{"n", i % 200}, {"s", i % 3 == 0 ? "abc" : "ABC"}};
        const size_t expected = (i % 200 > 100 ? 1 : 0) + (i % 3 == 0 ? 0 : 1);
        if (Validate(*compiled, instance).size() != expected) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong, (std::vector<int>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace flowrun
