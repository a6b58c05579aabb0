// The expression lexer: text -> tokens (names, literals, operators), each
// with its byte offset. Pure functions; thread-safe. Private to src/expr.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "expr/expression.h"

namespace flowrun::expr {

enum class TokenKind { kEnd, kName, kString, kInteger, kFloat, kPunct };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;   // as written (a string with its quotes)
  size_t offset = 0;
  nlohmann::json value;    // kString, kInteger, kFloat: the literal's value
  bool too_large = false;  // a number that does not fit (int64, finite double); value is unset
};

// Splits `text` into tokens ending with one kEnd token at text.size().
// Returns false and sets *error on an unterminated string or an unknown character.
bool Tokenize(std::string_view text, std::vector<Token>* tokens, ExprError* error);

}  // namespace flowrun::expr
