// JSON string escaping in one pass: plain runs are copied in bulk, UTF-8 is
// validated as it goes, and anything nlohmann would have to repair is handed
// to DumpJson so both paths agree byte for byte.
#include "core/json_escape.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace flowrun {
namespace {

enum ByteClass : unsigned char { kPlain, kEscape, kMultiByte, kInvalid };

// What a byte at the start of a character asks for.
constexpr std::array<unsigned char, 256> MakeByteClasses() {
  std::array<unsigned char, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    if (c < 0x20 || c == '"' || c == '\\') {
      classes[c] = kEscape;
    } else if (c < 0x80) {
      classes[c] = kPlain;
    } else if (c >= 0xC2 && c <= 0xF4) {
      classes[c] = kMultiByte;
    } else {
      classes[c] = kInvalid;  // continuation bytes, C0/C1 (overlong), F5..FF
    }
  }
  return classes;
}

constexpr std::array<unsigned char, 256> kByteClasses = MakeByteClasses();

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the well-formed UTF-8 sequence starting at `p` (whose lead
// byte is in C2..F4), or 0 when it is malformed or cut short. Follows
// Unicode's table 3-7: no overlongs, no surrogates, nothing past U+10FFFF.
std::size_t MultiByteLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char lead = p[0];
  const std::size_t left = static_cast<std::size_t>(end - p);
  if (lead <= 0xDF) return left >= 2 && IsContinuation(p[1]) ? 2 : 0;
  if (lead <= 0xEF) {
    if (left < 3 || !IsContinuation(p[2])) return 0;
    const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
    return p[1] >= low && p[1] <= high ? 3 : 0;
  }
  if (left < 4 || !IsContinuation(p[2]) || !IsContinuation(p[3])) return 0;
  const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
  const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
  return p[1] >= low && p[1] <= high ? 4 : 0;
}

void AppendEscape(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out.append("\\\"", 2);
      return;
    case '\\':
      out.append("\\\\", 2);
      return;
    case '\b':
      out.append("\\b", 2);
      return;
    case '\f':
      out.append("\\f", 2);
      return;
    case '\n':
      out.append("\\n", 2);
      return;
    case '\r':
      out.append("\\r", 2);
      return;
    case '\t':
      out.append("\\t", 2);
      return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escaped, sizeof(escaped));
      return;
    }
  }
}

}  // namespace

bool AppendJsonStringIfValidUtf8(std::string_view text, std::string& out) {
  const std::size_t original_size = out.size();
  // Room for the quotes and a few escapes; a longer result just grows.
  const std::size_t wanted = original_size + text.size() + 16;
  if (out.capacity() < wanted) out.reserve(std::max(wanted, 2 * out.capacity()));
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  const auto* run = p;  // start of the bytes not yet copied
  while (p < end) {
    switch (kByteClasses[*p]) {
      case kPlain:
        ++p;
        break;
      case kMultiByte: {
        const std::size_t length = MultiByteLength(p, end);
        if (length == 0) {
          out.resize(original_size);
          return false;
        }
        p += length;
        break;
      }
      case kEscape:
        out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        AppendEscape(*p, out);
        run = ++p;
        break;
      default:
        out.resize(original_size);
        return false;
    }
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
  out.push_back('"');
  return true;
}

void AppendJsonString(std::string_view text, std::string& out) {
  if (AppendJsonStringIfValidUtf8(text, out)) return;
  out += DumpJson(nlohmann::json(std::string(text)));
}

}  // namespace flowrun
