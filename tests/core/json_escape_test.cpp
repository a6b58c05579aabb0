// Tests for the hand-written JSON string escaper: byte-for-byte agreement
// with nlohmann's dump (via DumpJson) on tricky, random valid and invalid
// UTF-8 input, and that a failed attempt leaves the buffer alone.
#include "core/json_escape.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace flowrun {
namespace {

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonString(text, out);
  return out;
}

std::string Reference(std::string_view text) { return DumpJson(nlohmann::json(std::string(text))); }

// UTF-8 encoding of one scalar value (not a surrogate, at most U+10FFFF).
std::string Utf8(char32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

TEST(JsonEscapeTest, EscapesLikeNlohmann) {
  EXPECT_EQ(Escaped(""), R"("")");
  EXPECT_EQ(Escaped("plain"), R"("plain")");
  EXPECT_EQ(Escaped("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(Escaped("C:\\dir\\"), R"("C:\\dir\\")");
  EXPECT_EQ(Escaped("a/b"), R"("a/b")");  // '/' is not escaped
  EXPECT_EQ(Escaped("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(Escaped(std::string("\0\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(Escaped("\x0b\x1b"), R"("\u000b\u001b")");  // lowercase hex
  EXPECT_EQ(Escaped("\x7f"), "\"\x7f\"");                // DEL is left alone
  EXPECT_EQ(Escaped("héllo 日本語 🎉"), "\"héllo 日本語 🎉\"");
}

TEST(JsonEscapeTest, MatchesDumpJsonOnATableOfStrings) {
  std::vector<std::string> table = {
      "", "\"", "\\", "\\\"", "\"\\\"", "end\\", "\x7f", "a\x7f" "b", "é", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80",
      "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "日本語", "🎉👍🏽",
      "👨‍👩‍👧", "\xE2\x80\xA8\xE2\x80\xA9",  // U+2028/U+2029 stay raw, as in nlohmann
      "mixed \"q\" \\ \n\t é 🎉 \x01 end"};
  for (int c = 0; c < 0x20; ++c) {
    table.push_back(std::string(1, static_cast<char>(c)));
    table.push_back("x" + std::string(1, static_cast<char>(c)) + "y");
  }
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls += static_cast<char>(c);
  table.push_back(all_controls);
  for (const std::string& text : table) {
    std::string out;
    ASSERT_TRUE(AppendJsonStringIfValidUtf8(text, out)) << Reference(text);
    EXPECT_EQ(out, Reference(text));
  }
}

TEST(JsonEscapeTest, MatchesDumpJsonOnRandomValidUtf8) {
  std::mt19937 rng(20240611);
  // Weighted toward what needs care: controls, quotes, backslashes, every
  // UTF-8 length and the edges of each range.
  auto between = [&](std::uint32_t low, std::uint32_t high) {
    return static_cast<char32_t>(std::uniform_int_distribution<std::uint32_t>(low, high)(rng));
  };
  auto random_code_point = [&]() -> char32_t {
    switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
      case 0:
        return between(0, 0x1F);
      case 1:
        return U"\"\\/\x7f"[std::uniform_int_distribution<int>(0, 3)(rng)];
      case 2:
      case 3:
        return between(0x20, 0x7E);
      case 4:
        return between(0x80, 0x7FF);
      case 5: {
        const char32_t c = between(0x800, 0xFFFF);
        return c >= 0xD800 && c <= 0xDFFF ? c - 0x800 : c;  // no surrogates
      }
      case 6:
        return between(0x10000, 0x10FFFF);
      default:
        // The first and last scalar value of each length.
        return U"\u0080\u07FF\u0800\uD7FF\uE000\uFFFF\U00010000\U0010FFFF"[between(0, 7)];
    }
  };
  for (int i = 0; i < 10000; ++i) {
    std::string text;
    const int length = std::uniform_int_distribution<int>(0, 24)(rng);
    for (int j = 0; j < length; ++j) text += Utf8(random_code_point());
    std::string out = "prefix";
    ASSERT_TRUE(AppendJsonStringIfValidUtf8(text, out)) << Reference(text);
    ASSERT_EQ(out, "prefix" + Reference(text));
  }
}

TEST(JsonEscapeTest, InvalidUtf8IsLeftToDumpJson) {
  const std::vector<std::string> invalid = {
      "\x80",                  // lone continuation byte
      "ab\xBF" "cd",           // continuation byte mid-text
      "\xC0\x80",              // overlong NUL
      "\xC1\xBF",              // overlong
      "\xE0\x80\x80",          // overlong three-byte
      "\xE0\x9F\xBF",          // overlong three-byte, upper edge
      "\xED\xA0\x80",          // surrogate U+D800
      "\xED\xBF\xBF",          // surrogate U+DFFF
      "\xF0\x8F\xBF\xBF",      // overlong four-byte
      "\xF4\x90\x80\x80",      // past U+10FFFF
      "\xF5\x80\x80\x80",      // invalid lead
      "\xFF",                  // invalid byte
      "\xC3",                  // cut at the end
      "\xE2\x82",              // cut at the end
      "\xF0\x9F\x8E",          // cut at the end
      "\xE2\x82" "a",          // cut by an ASCII byte
      "\xC3\xA9\xC3",          // valid, then cut
      "ok \"q\" \xFE\n tail",  // escapes before and after the bad byte
  };
  for (const std::string& text : invalid) {
    std::string out = "keep";
    EXPECT_FALSE(AppendJsonStringIfValidUtf8(text, out)) << Reference(text);
    EXPECT_EQ(out, "keep");
    AppendJsonString(text, out);
    EXPECT_EQ(out, "keep" + Reference(text));
    const std::string escaped = Escaped(text);
    EXPECT_TRUE(nlohmann::json::accept(escaped)) << escaped;
    EXPECT_NE(escaped.find("\xEF\xBF\xBD"), std::string::npos) << escaped;  // U+FFFD
  }
}

TEST(JsonEscapeTest, MatchesDumpJsonOnRandomBytes) {
  std::mt19937 rng(7);
  // Bytes drawn from pieces of real sequences so valid and broken UTF-8 mix.
  const std::string pieces = "a\"\\\n\x01\x7f\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\x89\xED\xA0\x80\xC0\xF5";
  int valid = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string text;
    const int length = std::uniform_int_distribution<int>(0, 12)(rng);
    for (int j = 0; j < length; ++j) {
      text += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
    }
    std::string probe;
    valid += AppendJsonStringIfValidUtf8(text, probe) ? 1 : 0;
    ASSERT_EQ(Escaped(text), Reference(text));
  }
  // Both paths were exercised.
  EXPECT_GT(valid, 500);
  EXPECT_LT(valid, 9500);
}

TEST(JsonEscapeTest, AppendsAfterExistingContent) {
  std::string out = "data: ";
  AppendJsonString("a\"b", out);
  AppendJsonString(std::string(1000, 'x'), out);
  EXPECT_EQ(out, "data: \"a\\\"b\"\"" + std::string(1000, 'x') + "\"");
}

}  // namespace
}  // namespace flowrun
