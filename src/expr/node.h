// The parsed form of an expression: an immutable tree of Nodes, built by
// the parser and shared (read-only) by every evaluation, so it is
// thread-safe once built. Private to src/expr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "expr/expression.h"

namespace flowrun::expr {

struct FilterSpec;

enum class NodeKind {
  kLiteral,      // value
  kList,         // children: the items
  kObject,       // keys: the keys; children: the values
  kName,         // name: a root variable
  kAttribute,    // children[0].name  (value: the key, a string or an integer)
  kIndex,        // children[0][children[1]]
  kSlice,        // children[0][children[1]:children[2]:children[3]] (null when omitted)
  kUnary,        // op children[0]
  kBinary,       // children[0] op children[1]
  kConditional,  // children[0] if children[1] else children[2]
  kCall,         // filter(children...): children[0] is the value a filter is applied to
  kTest,         // children[0] is [not] name
};

enum class Op {
  kNone,
  kOr, kAnd, kNot,
  kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn,
  kConcat,
  kAdd, kSub,
  kMul, kDiv, kFloorDiv, kMod,
  kNeg, kPos,
};

// The operator as written ("==", "not in"), for messages.
const char* OpText(Op op);

class Node {
 public:
  NodeKind kind = NodeKind::kLiteral;
  TextSpan where;           // the whole node in the expression text
  TextSpan name_where;      // the operator, filter, test or attribute name
  Op op = Op::kNone;
  nlohmann::json value;     // kLiteral: the value; kAttribute: the key
  std::string name;         // kName: the variable; kCall: the filter; kTest: the test
  bool negated = false;     // kTest: `is not`
  bool as_filter = false;   // kCall: written `x | f` (not `f(x)`)
  const FilterSpec* filter = nullptr;  // kCall
  std::vector<std::string> keys;       // kObject
  std::vector<std::shared_ptr<const Node>> children;
  size_t height = 1;        // levels of nodes below and including this one
};

using NodePtr = std::shared_ptr<const Node>;

// The nesting the parser accepts; deeper trees are a parse error.
inline constexpr size_t kMaxParseDepth = 100;

// Parses `text` into a tree; on failure returns null and sets *error.
NodePtr ParseTree(std::string_view text, ExprError* error);

// The load-time problems of a tree parsed from `text`, in text order.
std::vector<ExprError> CheckTree(std::string_view text, const Node& root, const CheckScope& scope);

// The paths the tree reads, in text order.
std::vector<VariableRead> ReadsOf(std::string_view text, const Node& root);

}  // namespace flowrun::expr
