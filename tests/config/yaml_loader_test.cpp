#include "config/yaml_loader.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

TEST(YamlLoader, TypesScalarsAndKeepsPositions) {
  Diagnostics diagnostics("t.yaml", "");
  auto root = ParseYaml("a: 12\nb: \"12\"\nc: true\nd: ~\ne: 0.5\nf: text here\nlist:\n  - x\n", diagnostics);
  ASSERT_TRUE(root);
  EXPECT_TRUE(diagnostics.empty());
  EXPECT_EQ(root->ToJson(), nlohmann::json::parse(
      R"({"a":12,"b":"12","c":true,"d":null,"e":0.5,"f":"text here","list":["x"]})"));
  const ConfigNode* f = root->Find("f");
  EXPECT_EQ(f->where.line, 6);
  EXPECT_EQ(f->where.column, 4);
  EXPECT_EQ(f->key_where.column, 1);
  EXPECT_TRUE(root->Find("b")->quoted);
  EXPECT_EQ(root->Find("list")->items[0].where.line, 8);
  EXPECT_EQ(root->Find("list")->items[0].where.column, 5);
}

TEST(YamlLoader, ReportsSyntaxErrorsWithPosition) {
  Diagnostics diagnostics("bad.yaml", "a: [1, 2\n");
  EXPECT_FALSE(ParseYaml("a: [1, 2\n", diagnostics));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.list()[0].where.line, 2);
  EXPECT_EQ(diagnostics.list()[0].message.rfind("invalid YAML: ", 0), 0u);
}

TEST(YamlLoader, RejectsDuplicateKeys) {
  Diagnostics diagnostics("dup.yaml", "");
  auto root = ParseYaml("name: a\nname: b\n", diagnostics);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics.list()[0].message, "duplicate key 'name'");
  EXPECT_EQ(diagnostics.list()[0].where.line, 2);
}

}  // namespace
}  // namespace flowrun
