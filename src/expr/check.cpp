// Load-time checks of a parsed expression (unknown variables, wrong
// arities, type errors visible without running it) and the list of the
// variables it reads.
#include <algorithm>

#include "core/edit_distance.h"
#include "expr/filters.h"
#include "expr/node.h"
#include "expr/operators.h"
#include "expr/values.h"

namespace flowrun::expr {
namespace {

bool IsPath(const Node& node) {
  if (node.kind == NodeKind::kName) return true;
  return (node.kind == NodeKind::kAttribute || node.kind == NodeKind::kIndex) && IsPath(*node.children[0]);
}

class Checker {
 public:
  Checker(std::string_view text, const CheckScope& scope) : text_(text), scope_(scope) {}

  // Records the problems under `node`; returns the kinds it may produce.
  Kinds Visit(const Node& node) {
    switch (node.kind) {
      case NodeKind::kLiteral:
        return KindOf(node.value);
      case NodeKind::kList:
      case NodeKind::kObject:
        for (const auto& child : node.children) Visit(*child);
        return node.kind == NodeKind::kList ? kListKind : kObjectKind;
      case NodeKind::kName:
        if (std::find(scope_.roots.begin(), scope_.roots.end(), node.name) == scope_.roots.end()) {
          Add("unknown variable '" + node.name + "'" + DidYouMean(node.name, scope_.roots), node.name_where);
        }
        return kAnyKind;
      case NodeKind::kAttribute:
      case NodeKind::kIndex:
        for (const auto& child : node.children) Visit(*child);
        return kAnyKind;
      case NodeKind::kSlice: {
        const Kinds base = Visit(*node.children[0]);
        for (size_t i = 1; i < node.children.size(); ++i) {
          if (node.children[i]) Visit(*node.children[i]);
        }
        if (!(base & (kStringKind | kListKind))) Add(std::string("cannot slice ") + KindName(base), node.name_where);
        return base & (kStringKind | kListKind) ? base & (kStringKind | kListKind) : kAnyKind;
      }
      case NodeKind::kUnary: {
        const Kinds operand = Visit(*node.children[0]);
        if (node.op == Op::kNot) return kBoolKind;
        if (auto error = UnaryTypeError(node.op, operand)) Add(*error, node.name_where);
        return kNumberKind;
      }
      case NodeKind::kBinary: {
        const Kinds left = Visit(*node.children[0]);
        const Kinds right = Visit(*node.children[1]);
        if (auto error = BinaryTypeError(node.op, left, right)) Add(*error, node.name_where);
        return BinaryResultKinds(node.op, left, right);
      }
      case NodeKind::kConditional: {
        const Kinds value = Visit(*node.children[0]);
        Visit(*node.children[1]);
        return value | Visit(*node.children[2]);
      }
      case NodeKind::kCall:
        return VisitCall(node);
      case NodeKind::kTest:
        Visit(*node.children[0]);
        return kBoolKind;
    }
    return kAnyKind;
  }

  std::vector<ExprError> Take() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const ExprError& a, const ExprError& b) { return a.where.offset < b.where.offset; });
    return std::move(errors_);
  }

  void Add(std::string message, TextSpan where) { errors_.push_back({std::move(message), where}); }

 private:
  Kinds VisitCall(const Node& node) {
    const FilterSpec& spec = *node.filter;
    std::vector<Kinds> kinds;
    for (const auto& child : node.children) kinds.push_back(Visit(*child));
    const size_t given = node.children.size();
    if (given < spec.min_args() || given > spec.max_args()) {
      Add(ArityError(spec, node.as_filter, node.as_filter ? given - 1 : given), node.name_where);
      return spec.result;
    }
    for (size_t i = 0; i < given; ++i) {
      if (!(kinds[i] & spec.kinds[i])) Add(ArgTypeError(spec, i, kinds[i]), node.children[i]->where);
    }
    if (spec.guards && given >= 2) return (kinds[0] & ~kNullKind) | kinds[1];
    return spec.result;
  }

  std::string_view text_;
  const CheckScope& scope_;
  std::vector<ExprError> errors_;
};

// Collects the path reads under `node`; `guarded` when an unset value is fine here.
void CollectReads(std::string_view text, const Node& node, bool guarded, std::vector<VariableRead>* reads) {
  if (IsPath(node)) {
    std::vector<const Node*> chain;
    for (const Node* part = &node; part->kind != NodeKind::kName; part = part->children[0].get()) {
      chain.push_back(part);
    }
    const Node& root = chain.empty() ? node : *chain.back()->children[0];
    VariableRead read{root.name, std::string(text.substr(node.where.offset, node.where.length)), node.where,
                      guarded, {}};
    bool literal = true;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      const Node& part = **it;
      if (part.kind == NodeKind::kIndex) {
        CollectReads(text, *part.children[1], false, reads);
        const Node& index = *part.children[1];
        literal = literal && index.kind == NodeKind::kLiteral &&
                  (index.value.is_string() || index.value.is_number_integer());
        if (literal) read.path.push_back(index.value);
      } else if (literal) {
        read.path.push_back(part.value);
      }
    }
    reads->push_back(std::move(read));
    return;
  }
  for (size_t i = 0; i < node.children.size(); ++i) {
    if (!node.children[i]) continue;
    const bool guards = i == 0 && ((node.kind == NodeKind::kCall && node.filter->guards) ||
                                   (node.kind == NodeKind::kTest && TestGuards(node.name)));
    CollectReads(text, *node.children[i], guards, reads);
  }
}

}  // namespace

std::vector<ExprError> CheckTree(std::string_view text, const Node& root, const CheckScope& scope) {
  Checker checker(text, scope);
  checker.Visit(root);
  const size_t max_depth = EvalLimits{}.max_depth;
  if (root.height > max_depth) {
    checker.Add("expression is nested deeper than " + std::to_string(max_depth) + " levels (max_depth)",
                {0, std::max<size_t>(text.size(), 1)});
  }
  return checker.Take();
}

std::vector<VariableRead> ReadsOf(std::string_view text, const Node& root) {
  std::vector<VariableRead> reads;
  CollectReads(text, root, false, &reads);
  std::stable_sort(reads.begin(), reads.end(),
                   [](const VariableRead& a, const VariableRead& b) { return a.where.offset < b.where.offset; });
  return reads;
}

}  // namespace flowrun::expr
