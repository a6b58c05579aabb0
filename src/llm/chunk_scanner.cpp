// A recursive-descent JSON reader specialised for the path
// root -> "choices"[0] -> "delta" -> "content" (plus the choice's
// "finish_reason" and whether the root has a "usage"). A delta with
// non-null tool_calls, reasoning_content, reasoning or refusal is declined. Every value is
// validated as RFC 8259 JSON; declining (returning false) is always safe.
#include "llm/chunk_scanner.h"

#include <cstdint>
#include <cstring>
#include <utility>

namespace flowrun {
namespace {

constexpr int kMaxDepth = 64;

class Scanner {
 public:
  explicit Scanner(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  bool Document(ScannedChunk* out) {
    SkipSpace();
    if (!Root(out)) return false;
    SkipSpace();
    return p_ == end_;
  }

 private:
  // What to do with the value of a key on the interesting path.
  enum class Want { kNothing, kChoices, kDelta, kContent, kFinishReason, kError };

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool Consume(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // Iterates the items of an array ('[', ']') or object ('{', '}'), comma
  // separated; `item(index)` reads one (for an object: key, ':' and value).
  template <typename Item>
  bool Sequence(char open, char close, Item&& item) {
    if (!Consume(open)) return false;
    SkipSpace();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    for (size_t index = 0;; ++index) {
      SkipSpace();
      if (!item(index)) return false;
      SkipSpace();
      if (p_ == end_) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
    }
  }

  // Iterates an object's members: `member(key)` reads the value after ':'.
  template <typename Member>
  bool Object(Member&& member) {
    return Sequence('{', '}', [&](size_t) {
      key_.clear();
      if (!String(&key_) || !Consume(':')) return false;
      SkipSpace();
      return member(key_);
    });
  }

  bool Root(ScannedChunk* out) {
    bool seen_choices = false;
    bool seen_error = false;
    bool seen_usage = false;
    return Object([&](const std::string& key) {
      if (key == "choices") {
        if (std::exchange(seen_choices, true)) return false;  // a repeat: let the general parser decide
        return Choices(out);
      }
      if (key == "error") {
        if (std::exchange(seen_error, true)) return false;
        out->has_error = !IsNull();
        return Value(1);
      }
      if (key == "usage") {
        if (std::exchange(seen_usage, true)) return false;
        out->has_usage = !IsNull();
        return Value(1);
      }
      return Value(1);
    });
  }

  bool Choices(ScannedChunk* out) {
    if (p_ == end_ || *p_ != '[') return Value(1);  // not an array: no choice
    return Sequence('[', ']', [&](size_t index) {
      if (index == 0 && p_ < end_ && *p_ == '{') return Choice(out);
      return Value(2);
    });
  }

  bool Choice(ScannedChunk* out) {
    bool seen_delta = false;
    bool seen_finish = false;
    return Object([&](const std::string& key) {
      if (key == "delta") {
        if (std::exchange(seen_delta, true)) return false;
        if (p_ < end_ && *p_ == '{') return Delta(out);
        return Value(3);
      }
      if (key == "finish_reason") {
        if (std::exchange(seen_finish, true)) return false;
        out->finished = !IsNull();
        if (p_ < end_ && *p_ == '"') return String(&out->finish_reason);
        return Value(3);
      }
      return Value(3);
    });
  }

  bool Delta(ScannedChunk* out) {
    bool seen_content = false;
    return Object([&](const std::string& key) {
      if (key == "content") {
        if (std::exchange(seen_content, true)) return false;
        if (p_ < end_ && *p_ == '"') return String(&out->content);
      }
      // Tool calls, reasoning and refusals are the general parser's.
      if ((key == "tool_calls" || key == "reasoning_content" || key == "reasoning" || key == "refusal") &&
          !IsNull()) {
        return false;
      }
      return Value(4);
    });
  }

  bool IsNull() const { return end_ - p_ >= 4 && std::memcmp(p_, "null", 4) == 0; }

  // Any JSON value, validated and skipped.
  bool Value(int depth) {
    if (depth > kMaxDepth || p_ == end_) return false;
    switch (*p_) {
      case '"':
        return String(nullptr);
      case '{':
        return Object([&](const std::string&) { return Value(depth + 1); });
      case '[':
        return Sequence('[', ']', [&](size_t) { return Value(depth + 1); });
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  bool Literal(const char* word) {
    const size_t length = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < length || std::memcmp(p_, word, length) != 0) return false;
    p_ += length;
    return true;
  }

  static bool Digit(char c) { return c >= '0' && c <= '9'; }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?, at most 20 characters; exponents and
  // longer numbers (range questions) go to the general parser.
  bool Number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !Digit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && Digit(*p_)) ++p_;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !Digit(*p_)) return false;
      while (p_ < end_ && Digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) return false;
    return p_ - start <= 20;
  }

  static bool Continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

  // One UTF-8 sequence starting at p_ (a byte >= 0x80), strictly: no
  // overlong forms, no surrogates, nothing above U+10FFFF.
  bool Utf8Sequence() {
    const auto* s = reinterpret_cast<const unsigned char*>(p_);
    const size_t left = static_cast<size_t>(end_ - p_);
    const unsigned char lead = s[0];
    size_t length;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (left < length || s[1] < low || s[1] > high) return false;
    for (size_t i = 2; i < length; ++i) {
      if (!Continuation(s[i])) return false;
    }
    p_ += length;
    return true;
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits after "\u" at p_; -1 when malformed.
  long Hex4() {
    if (end_ - p_ < 4) return -1;
    long value = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = HexValue(p_[i]);
      if (digit < 0) return -1;
      value = value * 16 + digit;
    }
    p_ += 4;
    return value;
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool Escape(std::string* out) {
    if (p_ == end_) return false;
    const char c = *p_++;
    char plain;
    switch (c) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': {
        long code = Hex4();
        if (code < 0 || (code >= 0xDC00 && code <= 0xDFFF)) return false;
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          const long low = Hex4();
          if (low < 0xDC00 || low > 0xDFFF) return false;
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        if (out != nullptr) AppendUtf8(static_cast<uint32_t>(code), out);
        return true;
      }
      default:
        return false;
    }
    if (out != nullptr) out->push_back(plain);
    return true;
  }

  // A string at p_ (which must be '"'); its text is appended to `out` when
  // not null.
  bool String(std::string* out) {
    if (p_ == end_ || *p_ != '"') return false;
    ++p_;
    while (true) {
      const char* run = p_;
      while (p_ < end_) {
        const auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++p_;
      }
      if (out != nullptr) out->append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++p_;
        if (!Escape(out)) return false;
        continue;
      }
      const char* sequence = p_;
      if (!Utf8Sequence()) return false;
      if (out != nullptr) out->append(sequence, static_cast<size_t>(p_ - sequence));
    }
  }

  const char* p_;
  const char* end_;
  std::string key_;  // reused for every key
};

}  // namespace

bool ScanOpenAiChunk(std::string_view data, ScannedChunk* out) {
  *out = ScannedChunk();
  Scanner scanner(data);
  return scanner.Document(out);
}

}  // namespace flowrun
