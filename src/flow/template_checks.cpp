// Templates and expressions in a flow file: compiled once at load, every
// variable they read checked against what may be read where they are
// (inputs, history, the keys steps write, loop/item/error inside blocks).
#include <algorithm>

#include "flow/compile_context.h"

namespace flowrun {
namespace {

// `input.<field>` must name a declared input.
void CheckInputs(const ConfigNode& node, const std::string& text, const std::vector<expr::VariableRead>& reads,
                 const Flow& flow, const CompileContext& context) {
  for (const auto& read : reads) {
    if (read.root != "input" || read.path.empty() || !read.path[0].is_string()) continue;
    const std::string field = read.path[0].get<std::string>();
    if (flow.input.Find(field) != nullptr) continue;
    std::vector<std::string> names;
    for (const auto& input : flow.input.fields()) names.push_back(input.name);
    context.ErrorAt(OffsetLocation(node, text, read.where.offset, static_cast<int>(read.text.size())),
                    "unknown input '" + field + "'" + DidYouMean(field, names));
  }
}

// A compiled template or expression checked against what may be read at
// `scope` (unknown variables, type errors) and the declared inputs; false
// when that found an error.
template <typename Compiled>
bool CheckCompiled(const ConfigNode& node, const std::string& text, const Compiled& compiled, const BlockScope& scope,
                   const Flow& flow, const CompileContext& context) {
  const size_t errors_before = context.diagnostics.size();
  for (const auto& problem : compiled.Check(expr::CheckScope{scope.roots})) {
    context.ErrorAt(OffsetLocation(node, text, problem.where.offset, static_cast<int>(problem.where.length)),
                    problem.message);
  }
  CheckInputs(node, text, compiled.Reads(), flow, context);
  return context.diagnostics.size() == errors_before;
}

}  // namespace

std::optional<Template> StepCompiler::CompileTemplate(const std::string& name, const ConfigNode& node,
                                                      const BlockScope& scope) {
  const std::string text = node.scalar.get<std::string>();
  Template::CompileError error;
  auto compiled = Template::Compile(text, &error);
  if (!compiled) {
    context_.ErrorAt(OffsetLocation(node, text, error.offset, 1), "in '" + name + "': " + error.message);
    return std::nullopt;
  }
  if (!CheckCompiled(node, text, *compiled, scope, flow_, context_)) return std::nullopt;
  return compiled;
}

std::optional<expr::Expression> StepCompiler::CompileExpression(const std::string& name, const ConfigNode& node,
                                                                const BlockScope& scope) {
  // `until: true` and `if: 0` are expressions too.
  const std::string text = node.IsString() ? node.scalar.get<std::string>() : node.ToJson().dump();
  expr::ExprError error;
  auto compiled = expr::Expression::Parse(text, &error);
  if (!compiled) {
    context_.ErrorAt(OffsetLocation(node, text, error.where.offset, static_cast<int>(error.where.length)),
                     "in '" + name + "': " + error.message);
    return std::nullopt;
  }
  if (!CheckCompiled(node, text, *compiled, scope, flow_, context_)) return std::nullopt;
  return compiled;
}

}  // namespace flowrun
