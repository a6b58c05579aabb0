// The expression lexer.
#include "expr/lexer.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace flowrun::expr {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    *out += static_cast<char>(code);
  } else if (code < 0x800) {
    *out += static_cast<char>(0xC0 | (code >> 6));
    *out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    *out += static_cast<char>(0xE0 | (code >> 12));
    *out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

// Reads the string literal starting at text[start] (a quote); returns the
// offset after its closing quote, or npos when it is not closed.
size_t ReadString(std::string_view text, size_t start, std::string* value) {
  const char quote = text[start];
  size_t i = start + 1;
  while (i < text.size() && text[i] != quote) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      *value += text[i++];
      continue;
    }
    const char escaped = text[i + 1];
    i += 2;
    switch (escaped) {
      case 'n': *value += '\n'; break;
      case 't': *value += '\t'; break;
      case 'r': *value += '\r'; break;
      case '\\': case '\'': case '"': *value += escaped; break;
      case 'u': {
        uint32_t code = 0;
        auto [end, error] = std::from_chars(text.data() + i, text.data() + std::min(text.size(), i + 4), code, 16);
        if (error == std::errc() && end == text.data() + i + 4) {
          AppendUtf8(code >= 0xD800 && code <= 0xDFFF ? 0xFFFD : code, value);
          i += 4;
        } else {
          *value += "\\u";
        }
        break;
      }
      default:  // as Python: an unknown escape stays as written
        *value += '\\';
        *value += escaped;
    }
  }
  return i < text.size() ? i + 1 : std::string_view::npos;
}

// Reads a number starting at text[start]; returns the offset after it.
size_t ReadNumber(std::string_view text, size_t start, Token* token) {
  size_t i = start;
  while (i < text.size() && IsDigit(text[i])) ++i;
  bool is_float = false;
  if (i + 1 < text.size() && text[i] == '.' && IsDigit(text[i + 1])) {
    is_float = true;
    for (++i; i < text.size() && IsDigit(text[i]);) ++i;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    if (j < text.size() && IsDigit(text[j])) {
      is_float = true;
      for (i = j; i < text.size() && IsDigit(text[i]);) ++i;
    }
  }
  const char* first = text.data() + start;
  const char* last = text.data() + i;
  if (is_float) {
    double number = 0;
    auto result = std::from_chars(first, last, number);
    token->kind = TokenKind::kFloat;
    if (result.ec == std::errc() && std::isfinite(number)) {
      token->value = number;
    } else {
      token->too_large = true;
    }
  } else {
    int64_t number = 0;
    auto result = std::from_chars(first, last, number);
    token->kind = TokenKind::kInteger;
    if (result.ec == std::errc()) {
      token->value = number;
    } else {
      token->too_large = true;
    }
  }
  return i;
}

constexpr std::string_view kTwoCharPunct[] = {"//", "==", "!=", "<=", ">="};
constexpr std::string_view kOneCharPunct = "()[]{},:.|~+-*/%<>=";

}  // namespace

bool Tokenize(std::string_view text, std::vector<Token>* tokens, ExprError* error) {
  size_t i = 0;
  while (true) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    Token token;
    token.offset = i;
    if (i == text.size()) {
      tokens->push_back(std::move(token));
      return true;
    }
    const char c = text[i];
    size_t end = i + 1;
    if (IsNameStart(c)) {
      while (end < text.size() && IsNameChar(text[end])) ++end;
      token.kind = TokenKind::kName;
    } else if (IsDigit(c)) {
      end = ReadNumber(text, i, &token);
    } else if (c == '"' || c == '\'') {
      std::string value;
      end = ReadString(text, i, &value);
      if (end == std::string_view::npos) {
        *error = {"unterminated string", {i, 1}};
        return false;
      }
      token.kind = TokenKind::kString;
      token.value = std::move(value);
    } else {
      token.kind = TokenKind::kPunct;
      bool two = false;
      for (std::string_view punct : kTwoCharPunct) two = two || text.substr(i, 2) == punct;
      if (two) {
        end = i + 2;
      } else if (kOneCharPunct.find(c) == std::string_view::npos) {
        char shown[32];
        if (std::isprint(static_cast<unsigned char>(c))) {
          std::snprintf(shown, sizeof(shown), "unexpected character '%c'", c);
        } else {
          std::snprintf(shown, sizeof(shown), "unexpected byte 0x%02X", static_cast<unsigned char>(c));
        }
        *error = {shown, {i, 1}};
        return false;
      }
    }
    token.text = text.substr(i, end - i);
    tokens->push_back(std::move(token));
    i = end;
  }
}

}  // namespace flowrun::expr
