// URI reference resolution for $id and $ref (src/schema/schema_uri.h):
// the examples of RFC 3986 section 5.4, URNs, fragments and escapes.
#include "schema/schema_uri.h"

#include <gtest/gtest.h>

namespace flowrun::schema_internal {
namespace {

TEST(SchemaUri, ResolvesTheExamplesOfRfc3986) {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {";x", "http://a/b/c/;x"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {"g..", "http://a/b/c/g.."},
      {"./../g", "http://a/b/g"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
  };
  for (const auto& [reference, expected] : cases) {
    EXPECT_EQ(ResolveUri(base, reference), expected) << "reference " << reference;
  }
}

TEST(SchemaUri, UrnsAndFragments) {
  EXPECT_EQ(ResolveUri("urn:uuid:deadbeef", "#/$defs/bar"), "urn:uuid:deadbeef#/$defs/bar");
  EXPECT_EQ(ResolveUri("https://example.com/root.json", "#"), "https://example.com/root.json#");
  std::string uri, fragment;
  SplitFragment("http://x/a.json#/b", &uri, &fragment);
  EXPECT_EQ(uri, "http://x/a.json");
  EXPECT_EQ(fragment, "/b");
  SplitFragment("http://x/a.json", &uri, &fragment);
  EXPECT_EQ(fragment, "");
}

TEST(SchemaUri, EscapesAndDecodes) {
  EXPECT_EQ(PercentDecode("/$defs/percent%25field"), "/$defs/percent%field");
  EXPECT_EQ(PercentDecode("foo%22bar"), "foo\"bar");
  EXPECT_EQ(PercentDecode("50%"), "50%");
  EXPECT_EQ(PercentDecode("%zz%2"), "%zz%2");
  EXPECT_EQ(EscapePointerToken("a~b/c"), "a~0b~1c");
}

}  // namespace
}  // namespace flowrun::schema_internal
