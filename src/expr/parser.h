// The recursive-descent parser over the lexer's tokens (parser.cpp: the
// operator levels; parser_terms.cpp: filters, calls, paths and literals).
// One Parser per parse; errors are thrown as ParseFailure and caught by
// ParseTree. Private to src/expr.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "expr/lexer.h"
#include "expr/node.h"

namespace flowrun::expr {

struct ParseFailure {
  ExprError error;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  NodePtr ParseAll() {
    if (Peek().kind == TokenKind::kEnd) Fail("empty expression", Peek());
    NodePtr node = ParseExpr();
    if (Peek().kind != TokenKind::kEnd) FailUnexpected(Peek());
    return node;
  }

 private:
  // --- tokens ---
  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(position_ + ahead, tokens_.size() - 1)]; }
  const Token& Next() {
    const Token& token = tokens_[position_];
    if (position_ + 1 < tokens_.size()) ++position_;
    last_end_ = token.offset + token.text.size();
    return token;
  }
  bool IsPunct(std::string_view punct, size_t ahead = 0) const {
    const Token& token = Peek(ahead);
    return token.kind == TokenKind::kPunct && token.text == punct;
  }
  bool IsKeyword(std::string_view word, size_t ahead = 0) const {
    const Token& token = Peek(ahead);
    return token.kind == TokenKind::kName && token.text == word;
  }

  [[noreturn]] void Fail(std::string message, size_t offset, size_t length = 1) const {
    throw ParseFailure{{std::move(message), {offset, std::max<size_t>(length, 1)}}};
  }
  [[noreturn]] void Fail(std::string message, const Token& token) const {
    Fail(std::move(message), token.offset, token.text.size());
  }
  [[noreturn]] void FailUnexpected(const Token& token) const {
    if (token.kind == TokenKind::kEnd) Fail("unexpected end of expression", token);
    if (token.kind == TokenKind::kPunct && token.text == "=") Fail("unexpected '='; did you mean '=='?", token);
    Fail("unexpected '" + std::string(token.text) + "'", token);
  }
  void Expect(std::string_view punct, const Token& open) {
    if (IsPunct(punct)) {
      Next();
      return;
    }
    if (open.text == "(" && IsPunct(",")) Fail("tuples are not supported; use a list [a, b]", Peek());
    Fail("unclosed '" + std::string(open.text) + "' (expected '" + std::string(punct) + "')", open);
  }

  // --- nodes ---
  NodePtr Make(Node node, size_t start) {
    node.where = {start, std::max<size_t>(last_end_ - start, 1)};
    for (const auto& child : node.children) {
      if (child) node.height = std::max(node.height, child->height + 1);
    }
    if (node.height > kMaxParseDepth) TooDeep(start);
    return std::make_shared<const Node>(std::move(node));
  }
  [[noreturn]] void TooDeep(size_t offset) const {
    Fail("expression is nested too deeply (more than " + std::to_string(kMaxParseDepth) + " levels)", offset);
  }
  struct DepthGuard {
    DepthGuard(Parser& parser, size_t offset) : parser_(parser) {
      if (++parser_.depth_ > kMaxParseDepth) parser_.TooDeep(offset);
    }
    ~DepthGuard() { --parser_.depth_; }
    Parser& parser_;
  };

  // --- grammar ---
  NodePtr ParseExpr();

  NodePtr ParseBinaryChain(Op op, std::string_view word, NodePtr (Parser::*operand)());
  NodePtr ParseOr() { return ParseBinaryChain(Op::kOr, "or", &Parser::ParseAnd); }
  NodePtr ParseAnd() { return ParseBinaryChain(Op::kAnd, "and", &Parser::ParseNot); }

  NodePtr ParseNot();

  // The comparison operator at the current token (consumed), or kNone.
  Op TakeCompareOp(TextSpan* where);

  NodePtr ParseCompare();

  NodePtr ParseLeftAssociative(const std::vector<std::pair<std::string_view, Op>>& ops, NodePtr (Parser::*operand)());
  NodePtr ParseConcat() { return ParseLeftAssociative({{"~", Op::kConcat}}, &Parser::ParseAdditive); }
  NodePtr ParseAdditive() { return ParseLeftAssociative({{"+", Op::kAdd}, {"-", Op::kSub}}, &Parser::ParseTerm); }
  NodePtr ParseTerm() {
    return ParseLeftAssociative({{"*", Op::kMul}, {"/", Op::kDiv}, {"//", Op::kFloorDiv}, {"%", Op::kMod}},
                                &Parser::ParseUnaryWithFilters);
  }
  NodePtr ParseUnaryWithFilters() { return ParseUnary(true); }

  // As Jinja: `-x | f` is `(-x) | f`, and `-x.y` is `-(x.y)`.
  NodePtr ParseUnary(bool with_filters);

  NodePtr ParseFilters(NodePtr node, size_t start);

  // A filter or function call; `subject` is the piped value (null for a function).
  NodePtr ParseCall(const Token& name, NodePtr subject, size_t start, const char* what);

  NodePtr ParsePostfix(NodePtr node, size_t start);

  NodePtr ParseSubscript(NodePtr base, size_t start);

  NodePtr ParsePrimary();

  NodePtr ParseName();

  NodePtr ParseList();

  NodePtr ParseObject();

  std::vector<Token> tokens_;
  size_t position_ = 0;
  size_t last_end_ = 0;
  size_t depth_ = 0;
};

}  // namespace flowrun::expr
