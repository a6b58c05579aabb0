// JSON-Schema-Test-Suite conformance: every file in FLOWRUN_SCHEMA_CASES
// (the official draft 2020-12 cases for the keywords flowrun supports; see
// its README) is one test, which runs every group and reports each case
// whose result differs by file, group and test description.
//
// A group whose schema needs what the validator refuses is in kSkipped with
// the reason; its schema must then fail to compile (so a skip never hides a
// wrong answer), and a skip entry without its group fails too.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "schema/json_schema.h"

namespace flowrun {
namespace {

using nlohmann::json;

// "file.json/group description" -> why it is skipped.
const std::map<std::string, std::string> kSkipped = {
    {"additionalProperties.json/additionalProperties with propertyNames", "propertyNames is refused"},
    {"additionalProperties.json/dependentSchemas with additionalProperties", "dependentSchemas is refused"},
    {"defs.json/validate definition against metaschema", "a remote $ref (the metaschema)"},
    {"not.json/collect annotations inside a 'not', even if collection is disabled", "unevaluatedProperties is refused"},
    {"ref.json/remote ref, containing refs itself", "a remote $ref (the metaschema)"},
    {"ref.json/ref creates new scope when adjacent to keywords", "unevaluatedProperties is refused"},
    {"ref.json/ref to if", "if is refused"},
    {"ref.json/ref to then", "then is refused"},
    {"ref.json/ref to else", "else is refused"},
};

std::filesystem::path CasesDir() { return FLOWRUN_SCHEMA_CASES; }

std::vector<std::string> CaseFiles() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(CasesDir(), error)) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return json::parse(content.str());
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.size() - 5);  // without .json
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class SchemaSuiteFile : public ::testing::TestWithParam<std::string> {};

TEST_P(SchemaSuiteFile, EveryCaseGivesTheExpectedResult) {
  const std::string& file = GetParam();
  const json groups = ReadJson(CasesDir() / file);
  ASSERT_TRUE(groups.is_array()) << file;
  size_t checked = 0, skipped_groups = 0;
  for (const auto& group : groups) {
    const std::string description = group.at("description").get<std::string>();
    const std::string where = file + " / " + description;
    SchemaCompileResult compiled = CompileJsonSchema(group.at("schema"));
    if (auto skipped = kSkipped.find(file + "/" + description); skipped != kSkipped.end()) {
      EXPECT_FALSE(compiled.ok()) << where << " is skipped (" << skipped->second
                                  << ") but its schema now compiles: take it off the skip list";
      ++skipped_groups;
      continue;
    }
    if (!compiled.ok()) {
      std::string problems;
      for (const auto& problem : compiled.problems) problems += "\n  " + FormatSchemaProblem(problem);
      ADD_FAILURE() << where << ": the schema does not compile:" << problems;
      continue;
    }
    for (const auto& test : group.at("tests")) {
      const bool expected = test.at("valid").get<bool>();
      const auto violations = Validate(*compiled.schema, test.at("data"));
      ++checked;
      if (violations.empty() != expected) {
        std::string detail;
        for (const auto& violation : violations) detail += "\n  " + FormatViolation(violation);
        ADD_FAILURE() << where << " / " << test.at("description").get<std::string>() << ": expected "
                      << (expected ? "valid" : "invalid") << ", got " << (expected ? "invalid:" : "valid") << detail;
      }
    }
  }
  EXPECT_TRUE(checked > 0 || skipped_groups == groups.size()) << file << " has no case that ran";
}

INSTANTIATE_TEST_SUITE_P(JsonSchemaTestSuite, SchemaSuiteFile, ::testing::ValuesIn(CaseFiles()), TestName);

TEST(JsonSchemaConformance, CasesAreThereAndTheSkipListIsShortAndReal) {
  const std::vector<std::string> files = CaseFiles();
  ASSERT_GE(files.size(), 20u) << "no JSON Schema cases found in " << FLOWRUN_SCHEMA_CASES;
  std::set<std::string> groups;
  size_t total = 0;
  for (const auto& file : files) {
    for (const auto& group : ReadJson(CasesDir() / file)) {
      groups.insert(file + "/" + group.at("description").get<std::string>());
      ++total;
    }
  }
  for (const auto& [name, reason] : kSkipped) {
    EXPECT_EQ(groups.count(name), 1u) << "skip entry without a group: " << name;
  }
  EXPECT_LE(kSkipped.size() * 10, total) << "the skip list should stay short";
}

}  // namespace
}  // namespace flowrun
