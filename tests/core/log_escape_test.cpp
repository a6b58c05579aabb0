// EscapeForTextLog: what a terminal could act on never reaches a text log.
#include <gtest/gtest.h>

#include "core/log.h"

namespace flowrun {
namespace {

TEST(LogEscape, ControlBytesBecomeHexEscapes) {
  using namespace std::string_literals;
  EXPECT_EQ(EscapeForTextLog("/x\x1b[31mred\x1b[0m"s, false), "/x\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(EscapeForTextLog("a\0b\x7f"s, false), "a\\x00b\\x7f");
  EXPECT_EQ(EscapeForTextLog("line\r\nforged line\tx", false), "line\\x0d\\x0aforged line\\x09x");
  // Plain messages keep their line structure (multi-line diagnostics).
  EXPECT_EQ(EscapeForTextLog("a\nb\tc\rd\x1b", true), "a\nb\tc\\x0dd\\x1b");
}

TEST(LogEscape, ValidUtf8StaysAndInvalidBytesAreEscaped) {
  EXPECT_EQ(EscapeForTextLog("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", false), "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
  EXPECT_EQ(EscapeForTextLog("a\xff" "b", false), "a\\xffb");
  EXPECT_EQ(EscapeForTextLog("cut \xe6\x97", false), "cut \\xe6\\x97");              // truncated sequence
  EXPECT_EQ(EscapeForTextLog("\xc0\xaf", false), "\\xc0\\xaf");                      // overlong '/'
  EXPECT_EQ(EscapeForTextLog("\xed\xa0\x80", false), "\\xed\\xa0\\x80");             // a UTF-16 surrogate
  EXPECT_EQ(EscapeForTextLog("\xe6\x97" "a", false), "\\xe6\\x97a");                 // the next byte is looked at anew
  EXPECT_EQ(EscapeForTextLog("csi \xc2\x9b" "31m", false), "csi \\xc2\\x9b31m");     // C1 control U+009B
  EXPECT_EQ(EscapeForTextLog("nbsp \xc2\xa0", false), "nbsp \xc2\xa0");
}

}  // namespace
}  // namespace flowrun
