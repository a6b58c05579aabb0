// The flow-file limits in ParseYaml: alias expansion (nodes and text), node
// count, nesting depth (also through aliases), recursive aliases and size,
// each an exact diagnostic at the right place, never a crash or a blow-up.
#include <pthread.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "config/flow_file_limits.h"
#include "config/yaml_loader.h"

namespace flowrun {
namespace {

// The formatted diagnostics ("" when `source` parses).
std::string Problems(const std::string& source) {
  Diagnostics diagnostics("t.yaml", source);
  auto root = ParseYaml(source, diagnostics);
  EXPECT_EQ(root.has_value(), diagnostics.empty());
  return diagnostics.ToString();
}

std::string Repeat(const std::string& text, size_t count) {
  std::string out;
  out.reserve(text.size() * count);
  for (size_t i = 0; i < count; ++i) out += text;
  return out;
}

// The caret line of a diagnostic: under column `column`, `length` long.
std::string Caret(int column, int length = 1) {
  return std::string(4 + column - 1, ' ') + "^" + std::string(length - 1, '~') + "\n";
}

// Runs `body` on a thread with a 256 KiB stack (a worker's size) and waits.
void OnSmallStack(const std::function<void()>& body) {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 256 * 1024);
  pthread_t thread;
  auto trampoline = [](void* argument) -> void* {
    (*static_cast<const std::function<void()>*>(argument))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attributes, trampoline, const_cast<std::function<void()>*>(&body)), 0);
  pthread_attr_destroy(&attributes);
  pthread_join(thread, nullptr);
}

// The "billion laughs": each line nine aliases of the line before.
std::string AliasBomb() {
  std::string text = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (char name = 'b'; name <= 'i'; ++name) {
    const std::string previous = "*" + std::string(1, static_cast<char>(name - 1));
    text += std::string(1, name) + ": &" + name + " [" + Repeat(previous + ",", 8) + previous + "]\n";
  }
  return text;
}

TEST(YamlLimits, AliasBombIsRefusedAtTheAliasThatGoesOverTheLimit) {
  const std::string bomb = AliasBomb();
  ASSERT_LT(bomb.size(), 400u);
  // Nodes so far (keys count): the root 1, a 11, b 92, c 821, d 7382, e 66431, then f's
  // first *e (66430 more) passes 100000.
  EXPECT_EQ(Problems(bomb),
            "t.yaml:6:8: error: YAML aliases expand to more than 100000 nodes (the limit for a flow file)\n"
            "    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
                Caret(8, 2));
}

TEST(YamlLimits, AliasesWithinTheLimitsAreCopies) {
  Diagnostics diagnostics("t.yaml", "");
  auto root = ParseYaml("base: &b {model: m, temperature: 0.5}\none: *b\ntwo: [*b, *b]\n", diagnostics);
  ASSERT_TRUE(root) << diagnostics.ToString();
  const nlohmann::json base = {{"model", "m"}, {"temperature", 0.5}};
  EXPECT_EQ(root->ToJson(), nlohmann::json({{"base", base}, {"one", base}, {"two", {base, base}}}));
  // A copy points at the text it came from.
  EXPECT_EQ(root->Find("one")->Find("model")->where.line, 1);
  EXPECT_EQ(root->Find("one")->key_where.line, 2);
}

TEST(YamlLimits, RecursiveAliasIsRefused) {
  EXPECT_EQ(Problems("a: &a [1, *a]\n"),
            "t.yaml:1:11: error: recursive YAML alias '*a': it is inside the node it refers to\n"
            "    a: &a [1, *a]\n" +
                Caret(11, 2));
}

TEST(YamlLimits, NodesAreCountedWithoutAliasesToo) {
  // The list and its items: 100000 nodes are fine, 100001 are not.
  EXPECT_EQ(Problems(Repeat("- x\n", 99999)), "");
  EXPECT_EQ(Problems(Repeat("- x\n", 100000)),
            "t.yaml:100000:3: error: YAML document has more than 100000 nodes (the limit for a flow file)\n"
            "    - x\n" +
                Caret(3));
}

TEST(YamlLimits, TextCopiedByAliasesIsBounded) {
  // 100002 bytes (a, its value, b), then 100000 per alias: the 41st passes
  // 4194304 bytes.
  const std::string line2 = "b: [" + Repeat("*a, ", 49) + "*a]";
  const std::string source = "a: &a \"" + std::string(100000, 'x') + "\"\n" + line2 + "\n";
  const std::string problems = Problems(source);
  EXPECT_EQ(problems,
            "t.yaml:2:165: error: YAML aliases expand to more than 4194304 bytes of text (the limit for a flow file)\n"
            // A 202-byte line: a 160-byte window from byte 85, the caret 80 bytes in.
            "    ..." + line2.substr(84) + "\n" + std::string(7 + 80, ' ') + "^~\n");
  EXPECT_EQ(Problems("a: &a \"" + std::string(100000, 'x') + "\"\nb: [" + Repeat("*a, ", 39) + "*a]\n"), "");
}

TEST(YamlLimits, NestingDepthInFlowAndBlockStyle) {
  EXPECT_EQ(Problems(Repeat("[", 64) + Repeat("]", 64)), "");
  const std::string flow = Repeat("[", 65) + Repeat("]", 65);
  EXPECT_EQ(Problems(flow), "t.yaml:1:65: error: YAML nesting is deeper than 64 levels (the limit for a flow file)\n"
                            "    " + flow + "\n" + Caret(65));
  EXPECT_EQ(Problems(Repeat("- ", 64) + "x\n"), "");
  const std::string block = Repeat("- ", 65) + "x";
  EXPECT_EQ(Problems(block + "\n"),
            "t.yaml:1:129: error: YAML nesting is deeper than 64 levels (the limit for a flow file)\n"
            "    " + block + "\n" + Caret(129));
}

TEST(YamlLimits, NestingDepthCountsWhatAnAliasBringsIn) {
  // The root mapping, 30 lists, then an alias to 40 nested lists: 71 levels.
  const std::string line2 = "b: " + Repeat("[", 30) + "*a" + Repeat("]", 30);
  const std::string source = "a: &a " + Repeat("[", 40) + Repeat("]", 40) + "\n" + line2 + "\n";
  EXPECT_EQ(Problems(source),
            "t.yaml:2:34: error: YAML nesting is deeper than 64 levels (the limit for a flow file)\n"
            "    " + line2 + "\n" + Caret(34, 2));
  // 1 + 23 + 40 = 64 levels are fine.
  EXPECT_EQ(Problems("a: &a " + Repeat("[", 40) + Repeat("]", 40) + "\nb: " + Repeat("[", 23) + "*a" +
                     Repeat("]", 23) + "\n"),
            "");
}

TEST(YamlLimits, HundredThousandBracketsOnAWorkerSizedStack) {
  const std::string deep = Repeat("[", 100000);
  std::string problems;
  OnSmallStack([&] { problems = Problems(deep); });
  // Unclosed, each '[' after the first is read as the key of an implicit
  // mapping in the list before it: two levels per bracket.
  EXPECT_EQ(problems.substr(0, problems.find('\n')),
            "t.yaml:1:33: error: YAML nesting is deeper than 64 levels (the limit for a flow file)");
}

TEST(YamlLimits, LongScalarsNeedNoStack) {
  // std::regex (used for typing scalars before) recursed once per character.
  std::string problems;
  Diagnostics diagnostics("t.yaml", "");
  std::optional<ConfigNode> root;
  OnSmallStack([&] {
    root = ParseYaml("a: " + std::string(900000, '1') + "\nb: " + std::string(100000, 'z') + "\nc: -12.5e3\n",
                     diagnostics);
  });
  ASSERT_TRUE(root) << diagnostics.ToString();
  EXPECT_TRUE(root->Find("a")->IsString());  // too large for a number
  EXPECT_EQ(root->Find("b")->scalar.get<std::string>().size(), 100000u);
  EXPECT_EQ(root->Find("c")->scalar, -12500.0);
}

TEST(YamlLimits, SizeIsCheckedBeforeParsing) {
  EXPECT_EQ(Problems("#" + std::string(kMaxFlowFileBytes - 1, 'x')), "");
  EXPECT_EQ(Problems("#" + std::string(kMaxFlowFileBytes, 'x')),
            "t.yaml: error: the file is 1048577 bytes, more than 1048576 bytes (the limit for a flow file)\n");
}

}  // namespace
}  // namespace flowrun
