// The recursive-descent parser: tokens -> Node tree. Precedence, lowest first:
//   a if c else b, or, and, not, comparisons and `in`, ~, + -, * / // %,
//   unary - +, then postfix . [] and filters | and tests `is`.
#include <algorithm>

#include "core/edit_distance.h"
#include "expr/filters.h"
#include "expr/lexer.h"
#include "expr/node.h"

namespace flowrun::expr {
namespace {

struct ParseFailure {
  ExprError error;
};

bool IsReserved(std::string_view name) {
  static const char* const kReserved[] = {"and", "or", "not", "in", "is", "if", "else"};
  return std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved);
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens) : text_(text), tokens_(std::move(tokens)) {}

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
  NodePtr ParseExpr() {
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

  NodePtr ParseBinaryChain(Op op, std::string_view word, NodePtr (Parser::*operand)()) {
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
  NodePtr ParseOr() { return ParseBinaryChain(Op::kOr, "or", &Parser::ParseAnd); }
  NodePtr ParseAnd() { return ParseBinaryChain(Op::kAnd, "and", &Parser::ParseNot); }

  NodePtr ParseNot() {
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

  // The comparison operator at the current token (consumed), or kNone.
  Op TakeCompareOp(TextSpan* where) {
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

  NodePtr ParseCompare() {
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

  NodePtr ParseLeftAssociative(const std::vector<std::pair<std::string_view, Op>>& ops, NodePtr (Parser::*operand)()) {
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
  NodePtr ParseConcat() { return ParseLeftAssociative({{"~", Op::kConcat}}, &Parser::ParseAdditive); }
  NodePtr ParseAdditive() { return ParseLeftAssociative({{"+", Op::kAdd}, {"-", Op::kSub}}, &Parser::ParseTerm); }
  NodePtr ParseTerm() {
    return ParseLeftAssociative({{"*", Op::kMul}, {"/", Op::kDiv}, {"//", Op::kFloorDiv}, {"%", Op::kMod}},
                                &Parser::ParseUnaryWithFilters);
  }
  NodePtr ParseUnaryWithFilters() { return ParseUnary(true); }

  // As Jinja: `-x | f` is `(-x) | f`, and `-x.y` is `-(x.y)`.
  NodePtr ParseUnary(bool with_filters) {
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

  NodePtr ParseFilters(NodePtr node, size_t start) {
    while (true) {
      if (IsPunct("|")) {
        Next();
        const Token& name = Peek();
        if (name.kind != TokenKind::kName) Fail("expected a filter name after '|'", name);
        Next();
        node = ParseCall(name, node, start, "filter");
      } else if (IsKeyword("is")) {
        Next();
        Node test;
        test.kind = NodeKind::kTest;
        if (IsKeyword("not")) {
          Next();
          test.negated = true;
        }
        const Token& name = Peek();
        if (name.kind != TokenKind::kName) Fail("expected a test name after 'is'", name);
        Next();
        test.name = std::string(name.text);
        test.name_where = {name.offset, name.text.size()};
        if (!IsKnownTest(test.name)) Fail("unknown test '" + test.name + "'" + DidYouMean(test.name, TestNames()), name);
        test.children = {node};
        node = Make(std::move(test), start);
      } else {
        return node;
      }
    }
  }

  // A filter or function call; `subject` is the piped value (null for a function).
  NodePtr ParseCall(const Token& name, NodePtr subject, size_t start, const char* what) {
    Node call;
    call.kind = NodeKind::kCall;
    call.name = std::string(name.text);
    call.name_where = {name.offset, name.text.size()};
    call.as_filter = subject != nullptr;
    call.filter = FindFilter(call.name);
    if (call.filter == nullptr) {
      Fail(std::string("unknown ") + what + " '" + call.name + "'" + DidYouMean(call.name, FilterNames()), name);
    }
    if (subject) call.children.push_back(subject);
    if (IsPunct("(")) {
      const Token& open = Next();
      while (!IsPunct(")")) {
        if (Peek().kind == TokenKind::kName && IsPunct("=", 1)) Fail("keyword arguments are not supported", Peek());
        call.children.push_back(ParseExpr());
        if (!IsPunct(",")) break;
        Next();
      }
      Expect(")", open);
    }
    return Make(std::move(call), start);
  }

  NodePtr ParsePostfix(NodePtr node, size_t start) {
    while (true) {
      if (IsPunct(".")) {
        Next();
        const Token& key = Peek();
        Node access;
        access.kind = NodeKind::kAttribute;
        if (key.kind == TokenKind::kName) {
          access.value = std::string(key.text);
        } else if (key.kind == TokenKind::kInteger && !key.too_large) {
          access.value = key.value;
        } else {
          Fail("expected a name after '.'", key);
        }
        Next();
        access.name_where = {key.offset, key.text.size()};
        access.children = {node};
        node = Make(std::move(access), start);
      } else if (IsPunct("[")) {
        node = ParseSubscript(node, start);
      } else if (IsPunct("(")) {
        Fail("only functions can be called, e.g. length(x)", Peek());
      } else {
        return node;
      }
    }
  }

  NodePtr ParseSubscript(NodePtr base, size_t start) {
    const Token& open = Next();
    if (Peek().kind == TokenKind::kInteger && Peek().too_large) {
      Fail("index [" + std::string(Peek().text) + "] is too large", open);
    }
    Node node;
    node.kind = NodeKind::kIndex;
    node.name_where = {open.offset, 1};
    NodePtr first = IsPunct(":") ? nullptr : ParseExpr();
    if (!IsPunct(":")) {
      Expect("]", open);
      node.children = {base, first};
      return Make(std::move(node), start);
    }
    node.kind = NodeKind::kSlice;
    Next();
    NodePtr stop = IsPunct(":") || IsPunct("]") ? nullptr : ParseExpr();
    NodePtr step;
    if (IsPunct(":")) {
      Next();
      if (!IsPunct("]")) step = ParseExpr();
    }
    Expect("]", open);
    node.children = {base, first, stop, step};
    return Make(std::move(node), start);
  }

  NodePtr ParsePrimary() {
    const Token& token = Peek();
    const size_t start = token.offset;
    Node node;
    switch (token.kind) {
      case TokenKind::kInteger:
      case TokenKind::kFloat:
        if (token.too_large) Fail("number " + std::string(token.text) + " is too large", token);
        [[fallthrough]];
      case TokenKind::kString:
        node.value = token.value;
        Next();
        return Make(std::move(node), start);
      case TokenKind::kName:
        return ParseName();
      case TokenKind::kPunct:
        if (token.text == "(") {
          const Token& open = Next();
          NodePtr inner = ParseExpr();
          Expect(")", open);
          return inner;
        }
        if (token.text == "[") return ParseList();
        if (token.text == "{") return ParseObject();
        break;
      case TokenKind::kEnd:
        break;
    }
    FailUnexpected(token);
  }

  NodePtr ParseName() {
    const Token& token = Next();
    const size_t start = token.offset;
    const std::string_view name = token.text;
    Node node;
    if (name == "true" || name == "True" || name == "false" || name == "False") {
      node.value = name == "true" || name == "True";
      return Make(std::move(node), start);
    }
    if (name == "null" || name == "none" || name == "None") return Make(std::move(node), start);
    if (IsReserved(name)) FailUnexpected(token);
    if (IsPunct("(")) return ParseCall(token, nullptr, start, "function");
    node.kind = NodeKind::kName;
    node.name = std::string(name);
    node.name_where = {start, name.size()};
    return Make(std::move(node), start);
  }

  NodePtr ParseList() {
    const Token& open = Next();
    Node node;
    node.kind = NodeKind::kList;
    while (!IsPunct("]")) {
      node.children.push_back(ParseExpr());
      if (!IsPunct(",")) break;
      Next();
    }
    Expect("]", open);
    return Make(std::move(node), open.offset);
  }

  NodePtr ParseObject() {
    const Token& open = Next();
    Node node;
    node.kind = NodeKind::kObject;
    while (!IsPunct("}")) {
      const Token& key = Peek();
      if (key.kind != TokenKind::kString) {
        if (key.kind == TokenKind::kEnd) Expect("}", open);
        Fail("an object key must be a string literal", key);
      }
      Next();
      if (!IsPunct(":")) Fail("expected ':' after an object key", Peek());
      Next();
      node.keys.push_back(key.value.get<std::string>());
      node.children.push_back(ParseExpr());
      if (!IsPunct(",")) break;
      Next();
    }
    Expect("}", open);
    return Make(std::move(node), open.offset);
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t position_ = 0;
  size_t last_end_ = 0;
  size_t depth_ = 0;
};

}  // namespace

const char* OpText(Op op) {
  switch (op) {
    case Op::kOr: return "or";
    case Op::kAnd: return "and";
    case Op::kNot: return "not";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kIn: return "in";
    case Op::kNotIn: return "not in";
    case Op::kConcat: return "~";
    case Op::kAdd: return "+";
    case Op::kSub:
    case Op::kNeg: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kFloorDiv: return "//";
    case Op::kMod: return "%";
    case Op::kPos: return "+";
    case Op::kNone: break;
  }
  return "?";
}

NodePtr ParseTree(std::string_view text, ExprError* error) {
  std::vector<Token> tokens;
  if (!Tokenize(text, &tokens, error)) return nullptr;
  try {
    return Parser(text, std::move(tokens)).ParseAll();
  } catch (const ParseFailure& failure) {
    *error = failure.error;
    return nullptr;
  }
}

}  // namespace flowrun::expr
