// Template: compiling (template_parser.cpp), rendering (template_render.cpp),
// and what a template reads, for the load-time checks.
#include "templates/template.h"

#include <algorithm>

#include "templates/template_render.h"
#include "templates/template_tree.h"

namespace flowrun {
namespace {

using template_internal::Node;

// Calls visit(expression, names bound where it is) for every expression, in text order.
template <typename Visit>
void ForEachExpression(const std::vector<Node>& body, std::vector<std::string>& bound, const Visit& visit) {
  for (const Node& node : body) {
    switch (node.kind) {
      case Node::Kind::kText:
        break;
      case Node::Kind::kOutput:
        visit(*node.value, bound);
        break;
      case Node::Kind::kSet:
        visit(*node.value, bound);
        bound.push_back(node.text);  // as Jinja: visible after it, also after an enclosing if
        break;
      case Node::Kind::kIf:
        for (const auto& branch : node.branches) {
          if (branch.condition) visit(*branch.condition, bound);
          ForEachExpression(branch.body, bound, visit);
        }
        break;
      case Node::Kind::kFor: {
        visit(*node.value, bound);
        std::vector<std::string> inner = bound;
        inner.push_back(node.text);
        inner.push_back("loop");
        ForEachExpression(node.body, inner, visit);
        std::vector<std::string> otherwise = bound;
        ForEachExpression(node.else_body, otherwise, visit);
        break;
      }
    }
  }
}

}  // namespace

std::optional<Template> Template::Compile(std::string_view text, CompileError* error) {
  auto body = std::make_shared<std::vector<Node>>();
  template_internal::ParseError parse_error;
  if (!template_internal::ParseTemplate(text, body.get(), &parse_error)) {
    *error = {parse_error.message, parse_error.offset};
    return std::nullopt;
  }
  Template result;
  result.plain_ = (body->empty() && text.empty()) ||
                  (body->size() == 1 && body->front().kind == Node::Kind::kText && body->front().text == text);
  result.body_ = std::move(body);
  for (const auto& read : result.Reads()) {
    Variable variable{{read.root}, read.text, read.where.offset};
    for (const auto& element : read.path) {
      if (element.is_string()) {
        variable.path.emplace_back(element.get<std::string>());
      } else if (element.is_number_integer() && element.get<int64_t>() >= 0) {
        variable.path.emplace_back(element.get<size_t>());
      } else {
        break;
      }
    }
    result.variables_.push_back(std::move(variable));
  }
  return result;
}

const std::vector<Node>& Template::body() const {
  static const std::vector<Node> kEmpty;
  return body_ ? *body_ : kEmpty;
}

Status Template::Render(const nlohmann::json& state, std::string* out) const {
  return Render(expr::JsonVariables(state), out);
}

Status Template::Render(const expr::Variables& variables, std::string* out, const expr::EvalLimits& limits) const {
  return template_internal::RenderTemplate(body(), variables, limits, out);
}

const expr::Expression* Template::SingleExpression() const {
  if (body().size() != 1 || body().front().kind != Node::Kind::kOutput) return nullptr;
  return &body().front().value->expression;
}

std::vector<expr::VariableRead> Template::Reads() const {
  std::vector<expr::VariableRead> reads;
  std::vector<std::string> bound;
  ForEachExpression(body(), bound, [&](const template_internal::PlacedExpression& placed,
                                       const std::vector<std::string>& names) {
    for (auto& read : placed.expression.Reads()) {
      if (std::find(names.begin(), names.end(), read.root) != names.end()) continue;
      read.where.offset += placed.offset;
      reads.push_back(std::move(read));
    }
  });
  return reads;
}

std::vector<expr::ExprError> Template::Check(const expr::CheckScope& scope) const {
  std::vector<expr::ExprError> problems;
  std::vector<std::string> bound;
  ForEachExpression(body(), bound, [&](const template_internal::PlacedExpression& placed,
                                       const std::vector<std::string>& names) {
    expr::CheckScope here = scope;
    here.roots.insert(here.roots.end(), names.begin(), names.end());
    for (auto& problem : placed.expression.Check(here)) {
      problem.where.offset += placed.offset;
      problems.push_back(std::move(problem));
    }
  });
  std::stable_sort(problems.begin(), problems.end(),
                   [](const expr::ExprError& a, const expr::ExprError& b) { return a.where.offset < b.where.offset; });
  return problems;
}

std::vector<const Template::Variable*> Template::Variables() const {
  std::vector<const Variable*> variables;
  for (const auto& variable : variables_) variables.push_back(&variable);
  return variables;
}

bool Template::IsPlainText() const { return plain_; }

}  // namespace flowrun
