// The parser's operator levels, lowest first: a if c else b, or, and, not,
// comparisons and `in`, ~, + -, * / // %, unary - + (then parser_terms.cpp).
#include "expr/parser.h"

namespace flowrun::expr {

NodePtr Parser::ParseExpr() {
  DepthGuard guard(*this, Peek().offset);
  const size_t start = Peek().offset;
  NodePtr value = ParseOr();
  if (!IsKeyword("if")) return value;
  Node node;
  node.kind = NodeKind::kConditional;
  node.name_where = {Peek().offset, 2};
  Next();
  NodePtr condition = ParseOr();
  if (!IsKeyword("else")) Fail("expected 'else' (an inline if is 'a if condition else b')", Peek());
  Next();
  NodePtr otherwise = ParseExpr();
  node.children = {value, condition, otherwise};
  return Make(std::move(node), start);
}

NodePtr Parser::ParseBinaryChain(Op op, std::string_view word, NodePtr (Parser::*operand)()) {
  const size_t start = Peek().offset;
  NodePtr left = (this->*operand)();
  while (IsKeyword(word)) {
    Node node;
    node.kind = NodeKind::kBinary;
    node.op = op;
    node.name_where = {Next().offset, word.size()};
    node.children = {left, (this->*operand)()};
    left = Make(std::move(node), start);
  }
  return left;
}

NodePtr Parser::ParseNot() {
  if (!IsKeyword("not")) return ParseCompare();
  DepthGuard guard(*this, Peek().offset);
  const size_t start = Peek().offset;
  Node node;
  node.kind = NodeKind::kUnary;
  node.op = Op::kNot;
  node.name_where = {Next().offset, 3};
  node.children = {ParseNot()};
  return Make(std::move(node), start);
}

Op Parser::TakeCompareOp(TextSpan* where) {
  static const std::pair<std::string_view, Op> kOps[] = {{"==", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt},
                                                         {"<=", Op::kLe}, {">", Op::kGt},  {">=", Op::kGe}};
  for (const auto& [text, op] : kOps) {
    if (IsPunct(text)) {
      *where = {Next().offset, text.size()};
      return op;
    }
  }
  if (IsKeyword("in")) {
    *where = {Next().offset, 2};
    return Op::kIn;
  }
  if (IsKeyword("not") && IsKeyword("in", 1)) {
    const size_t offset = Next().offset;
    *where = {offset, Next().offset + 2 - offset};
    return Op::kNotIn;
  }
  return Op::kNone;
}

NodePtr Parser::ParseCompare() {
  const size_t start = Peek().offset;
  NodePtr left = ParseConcat();
  Node node;
  node.kind = NodeKind::kBinary;
  node.op = TakeCompareOp(&node.name_where);
  if (node.op == Op::kNone) return left;
  node.children = {left, ParseConcat()};
  TextSpan second;
  const size_t second_offset = Peek().offset;
  if (TakeCompareOp(&second) != Op::kNone) {
    Fail("comparisons cannot be chained; use 'and'", second_offset, second.length);
  }
  return Make(std::move(node), start);
}

NodePtr Parser::ParseLeftAssociative(const std::vector<std::pair<std::string_view, Op>>& ops, NodePtr (Parser::*operand)()) {
  const size_t start = Peek().offset;
  NodePtr left = (this->*operand)();
  while (true) {
    Op op = Op::kNone;
    std::string_view written;
    for (const auto& [text, candidate] : ops) {
      if (IsPunct(text)) {
        op = candidate;
        written = text;
      }
    }
    if (op == Op::kNone) return left;
    Node node;
    node.kind = NodeKind::kBinary;
    node.op = op;
    node.name_where = {Next().offset, written.size()};
    node.children = {left, (this->*operand)()};
    left = Make(std::move(node), start);
  }
}

NodePtr Parser::ParseUnary(bool with_filters) {
  const size_t start = Peek().offset;
  NodePtr node;
  if (IsPunct("-") || IsPunct("+")) {
    DepthGuard guard(*this, start);
    Node unary;
    unary.kind = NodeKind::kUnary;
    unary.op = Peek().text == "-" ? Op::kNeg : Op::kPos;
    unary.name_where = {Next().offset, 1};
    NodePtr operand = ParseUnary(false);
    if (operand->kind == NodeKind::kLiteral && operand->value.is_number()) {
      // Fold -1 into a literal, so `history[-1]` has a literal index.
      Node folded = *operand;
      if (unary.op == Op::kNeg) {
        folded.value = operand->value.is_number_integer() ? nlohmann::json(-operand->value.get<int64_t>())
                                                         : nlohmann::json(-operand->value.get<double>());
      }
      node = Make(std::move(folded), start);
    } else {
      unary.children = {operand};
      node = Make(std::move(unary), start);
    }
  } else {
    node = ParsePostfix(ParsePrimary(), start);
  }
  return with_filters ? ParseFilters(node, start) : node;
}
NodePtr ParseTree(std::string_view text, ExprError* error) {
  std::vector<Token> tokens;
  if (!Tokenize(text, &tokens, error)) return nullptr;
  try {
    return Parser(std::move(tokens)).ParseAll();
  } catch (const ParseFailure& failure) {
    *error = failure.error;
    return nullptr;
  }
}

}  // namespace flowrun::expr
