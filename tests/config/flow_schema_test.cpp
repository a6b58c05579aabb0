// schemas/flow.schema.json against the flows it describes: every flow in
// flows/ (read by flowrun's own YAML loader) matches it, and typical
// mistakes, also deep inside nested blocks, do not. The checker below covers
// the part of JSON Schema (draft-07) the schema uses; a keyword it does not
// know fails the test, so the schema cannot silently outgrow it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config/yaml_loader.h"

namespace flowrun {
namespace {

using nlohmann::json;

class SchemaChecker {
 public:
  explicit SchemaChecker(json schema) : root_(std::move(schema)) {}

  // Problems found, as "<json path>: <why>"; empty when `value` matches.
  std::vector<std::string> Check(const json& value) {
    std::vector<std::string> problems;
    Check(root_, value, "", problems);
    return problems;
  }

 private:
  const json& Resolve(const json& schema) {
    if (!schema.contains("$ref")) return schema;
    const std::string ref = schema["$ref"];
    EXPECT_EQ(ref.rfind("#/definitions/", 0), 0u) << ref;
    return root_["definitions"].at(ref.substr(14));
  }

  static bool HasType(const json& value, const std::string& type) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "integer") return value.is_number_integer();
    if (type == "number") return value.is_number();
    if (type == "boolean") return value.is_boolean();
    if (type == "null") return value.is_null();
    ADD_FAILURE() << "unknown type " << type;
    return false;
  }

  void Check(const json& schema_or_ref, const json& value, const std::string& where, std::vector<std::string>& out) {
    static const std::set<std::string> kKnown = {
        "$schema", "$id", "$ref", "title", "description", "default", "type", "const", "enum", "properties",
        "required", "additionalProperties", "items", "minItems", "minProperties", "minimum", "maximum",
        "pattern", "oneOf", "not"};
    const json& schema = Resolve(schema_or_ref);
    for (const auto& [keyword, unused] : schema.items()) {
      if (!kKnown.count(keyword) && keyword != "definitions") ADD_FAILURE() << "keyword not checked: " << keyword;
    }
    auto fail = [&](const std::string& why) { out.push_back((where.empty() ? "/" : where) + ": " + why); };
    if (schema.contains("type")) {
      const json types = schema["type"].is_array() ? schema["type"] : json::array({schema["type"]});
      bool any = false;
      for (const auto& type : types) any = any || HasType(value, type);
      if (!any) return fail("not of type " + types.dump());
    }
    if (schema.contains("const") && value != schema["const"]) fail("is not " + schema["const"].dump());
    if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) {
      fail(value.dump() + " is not one of " + schema["enum"].dump());
    }
    if (value.is_object()) {
      for (const auto& key : schema.value("required", json::array())) {
        if (!value.contains(key)) fail("missing '" + key.get<std::string>() + "'");
      }
      if (schema.contains("minProperties") && value.size() < schema["minProperties"]) fail("too few properties");
      const json properties = schema.value("properties", json::object());
      for (const auto& [key, item] : value.items()) {
        if (properties.contains(key)) {
          Check(properties[key], item, where + "/" + key, out);
        } else if (schema.contains("additionalProperties")) {
          const json& extra = schema["additionalProperties"];
          if (extra.is_boolean()) {
            if (!extra.get<bool>()) fail("unknown property '" + key + "'");
          } else {
            Check(extra, item, where + "/" + key, out);
          }
        }
      }
    }
    if (value.is_array()) {
      if (schema.contains("minItems") && value.size() < schema["minItems"]) fail("too few items");
      if (schema.contains("items")) {
        for (size_t i = 0; i < value.size(); ++i) Check(schema["items"], value[i], where + "/" + std::to_string(i), out);
      }
    }
    if (value.is_number()) {
      if (schema.contains("minimum") && value < schema["minimum"]) fail("below the minimum");
      if (schema.contains("maximum") && value > schema["maximum"]) fail("above the maximum");
    }
    if (value.is_string() && schema.contains("pattern") &&
        !std::regex_search(value.get<std::string>(), std::regex(schema["pattern"].get<std::string>()))) {
      fail("does not match " + schema["pattern"].get<std::string>());
    }
    if (schema.contains("oneOf")) {
      int matches = 0;
      std::vector<std::string> why;
      for (const auto& option : schema["oneOf"]) {
        std::vector<std::string> problems;
        Check(option, value, where, problems);
        if (problems.empty()) ++matches;
        why.insert(why.end(), problems.begin(), problems.end());
      }
      if (matches != 1) {
        fail("matches " + std::to_string(matches) + " of oneOf");
        if (matches == 0) out.insert(out.end(), why.begin(), why.end());
      }
    }
    if (schema.contains("not")) {
      std::vector<std::string> problems;
      Check(schema["not"], value, where, problems);
      if (problems.empty()) fail("matches a 'not' schema");
    }
  }

  const json root_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json Yaml(const std::string& source, const std::string& name = "flow.yaml") {
  Diagnostics diagnostics(name, source);
  auto root = ParseYaml(source, diagnostics);
  EXPECT_TRUE(root) << diagnostics.ToString();
  return root ? root->ToJson() : json();
}

SchemaChecker Checker() {
  return SchemaChecker(json::parse(ReadFile(std::string(FLOWRUN_SOURCE_DIR) + "/schemas/flow.schema.json")));
}

TEST(FlowSchema, EveryExampleFlowMatches) {
  SchemaChecker checker = Checker();
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FLOWRUN_SOURCE_DIR) + "/flows")) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    const auto problems = checker.Check(Yaml(ReadFile(entry.path()), entry.path()));
    EXPECT_TRUE(problems.empty()) << entry.path() << ":\n" << ::testing::PrintToString(problems);
  }
  EXPECT_GE(files, 5);
}

std::vector<std::string> ProblemsWithStep(const std::string& step_yaml) {
  return Checker().Check(Yaml("version: 1\nname: x\nsteps:\n" + step_yaml));
}

TEST(FlowSchema, EveryConstructMatches) {
  EXPECT_EQ(ProblemsWithStep(R"(  - type: set
    values: {topic: "{{ input.message | lower }}", attempts: 0}
  - type: if
    when: category == "billing"
    then: [{type: append-reply}]
    else: []
  - type: switch
    on: category | trim
    cases: {billing: [{type: fail, message: "no"}]}
    default: [{type: append-reply, if: reply, timeout_ms: 200, retry: {max_attempts: 2, backoff_ms: 10}}]
  - type: loop
    max_iterations: 3
    until: review.ok
    on_limit: fail
    steps: [{type: llm-stream, stream: false, mock_replies: [a, b], on_error: continue}]
  - type: parallel
    stream: interleave
    branches: {a: [{type: append-reply}], b: [{type: append-reply}]}
  - type: map
    over: input.documents
    as: doc
    concurrency: 4
    steps: [{type: call, flow: summarize, input: {text: "{{ doc }}"}, output_from: reply}]
    collect: reply
    output: summaries
    on_error: [{type: append-message, content: "{{ error.message }}"}]
  - type: llm-stream
    messages: [{role: user, content: hi}]
    mock_reply: "{{ input.message }}"
)"),
            std::vector<std::string>());
}

TEST(FlowSchema, MistakesInNestedBlocksAreCaught) {
  // A misspelt key three blocks deep.
  EXPECT_FALSE(ProblemsWithStep("  - type: loop\n    max_iterations: 2\n    steps:\n      - type: if\n"
                                "        when: x\n        then: [{type: llm-stream, temprature: 1}]\n")
                   .empty());
  EXPECT_FALSE(ProblemsWithStep("  - type: loop\n    steps: []\n").empty()) << "a loop needs max_iterations";
  EXPECT_FALSE(ProblemsWithStep("  - type: llm-stream\n    mock_reply: a\n    mock_replies: [b]\n").empty());
  EXPECT_FALSE(ProblemsWithStep("  - type: llm-stream\n    mock_replies: []\n").empty());
  EXPECT_FALSE(ProblemsWithStep("  - type: append-reply\n    on_error: ignore\n").empty());
  EXPECT_FALSE(ProblemsWithStep("  - type: append-reply\n    retry: {attempts: 2}\n").empty());
  EXPECT_FALSE(ProblemsWithStep("  - type: map\n    over: x\n    concurrency: 0\n    steps: []\n").empty());
  EXPECT_FALSE(ProblemsWithStep("  - type: switch\n    on: x\n    cases: {a: hello}\n").empty());
  EXPECT_TRUE(ProblemsWithStep("  - type: my-custom-step\n    anything: 1\n").empty()) << "custom steps stay open";
}

TEST(FlowSchema, TheOpenAiBlock) {
  auto problems = [](const std::string& block) {
    return Checker().Check(Yaml("version: 1\nname: x\n" + block + "steps: [{type: append-reply}]\n"));
  };
  EXPECT_TRUE(problems("openai: false\n").empty());
  EXPECT_TRUE(problems("openai: {model: acme/helper-1, pass_through: [temperature, max_completion_tokens], "
                       "input: {message: last_user_message, history: earlier_messages}}\n")
                  .empty());
  EXPECT_TRUE(problems("openai: true\n").empty());
  EXPECT_FALSE(problems("openai: yes please\n").empty());
  EXPECT_FALSE(problems("openai: {modle: x}\n").empty());
  EXPECT_FALSE(problems("openai: {pass_through: [top_k]}\n").empty());
  EXPECT_FALSE(problems("openai: {input: {message: last_user}}\n").empty());
  EXPECT_FALSE(problems("endpoint: /v1/chat/completions\n").empty());
}

}  // namespace
}  // namespace flowrun
