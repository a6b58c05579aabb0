// The parser's tightest level: filters `|` and tests `is`, function calls,
// paths (`.name`, `[index]`, `[a:b:c]`) and literals.
#include <algorithm>

#include "core/edit_distance.h"
#include "expr/filters.h"
#include "expr/parser.h"

namespace flowrun::expr {
namespace {

bool IsReserved(std::string_view name) {
  static const char* const kReserved[] = {"and", "or", "not", "in", "is", "if", "else"};
  return std::find(std::begin(kReserved), std::end(kReserved), name) != std::end(kReserved);
}

}  // namespace

NodePtr Parser::ParseFilters(NodePtr node, size_t start) {
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

NodePtr Parser::ParseCall(const Token& name, NodePtr subject, size_t start, const char* what) {
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

NodePtr Parser::ParsePostfix(NodePtr node, size_t start) {
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

NodePtr Parser::ParseSubscript(NodePtr base, size_t start) {
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

NodePtr Parser::ParsePrimary() {
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

NodePtr Parser::ParseName() {
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

NodePtr Parser::ParseList() {
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

NodePtr Parser::ParseObject() {
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
}  // namespace flowrun::expr
