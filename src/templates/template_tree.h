// The parsed form of a template: a tree of text, output, if, for and set
// nodes, each expression with its offset in the template text. Built once
// by ParseTemplate and then only read, so it is thread-safe to share.
// Private to src/templates.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "expr/expression.h"

namespace flowrun::template_internal {

struct Node;

// An expression and where its text starts in the template.
struct PlacedExpression {
  expr::Expression expression;
  size_t offset = 0;
};

// One branch of an if: `{% if c %}`/`{% elif c %}` (with a condition) or `{% else %}`.
struct Branch {
  std::optional<PlacedExpression> condition;
  std::vector<Node> body;
};

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet };
  Kind kind = Kind::kText;
  std::string text;                          // kText: the text; kFor: the loop variable; kSet: the name
  std::optional<PlacedExpression> value;     // kOutput, kSet: the value; kFor: what it loops over
  std::vector<Branch> branches;              // kIf
  std::vector<Node> body;                    // kFor
  std::vector<Node> else_body;               // kFor: when there is nothing to loop over
};

// The nesting of blocks the parser accepts.
inline constexpr size_t kMaxBlockDepth = 100;

struct ParseError {
  std::string message;
  size_t offset = 0;
};

// Parses `text`; on failure returns false and sets *error.
bool ParseTemplate(std::string_view text, std::vector<Node>* body, ParseError* error);

}  // namespace flowrun::template_internal
