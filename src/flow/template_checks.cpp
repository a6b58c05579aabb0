// Templates and expressions in a flow file: compiled once at load, every
// variable they read checked against what may be read where they are
// (inputs, history, the keys steps write, loop/item/error inside blocks).
#include <algorithm>

#include "flow/compile_context.h"

namespace flowrun {

std::optional<Template> StepCompiler::CompileTemplate(const std::string& name, const ConfigNode& node,
                                                      const BlockScope& scope) {
  const std::string text = node.scalar.get<std::string>();
  Template::CompileError error;
  auto compiled = Template::Compile(text, &error);
  if (!compiled) {
    context_.ErrorAt(OffsetLocation(node, text, error.offset, 1), "in '" + name + "': " + error.message);
    return std::nullopt;
  }
  bool ok = true;
  for (const Template::Variable* variable : compiled->Variables()) {
    const std::string& root = std::get<std::string>(variable->path.front());
    const int length = static_cast<int>(variable->text.size());
    if (std::find(scope.roots.begin(), scope.roots.end(), root) == scope.roots.end()) {
      context_.ErrorAt(OffsetLocation(node, text, variable->offset, static_cast<int>(root.size())),
                       "unknown variable '" + root + "'" + DidYouMean(root, scope.roots));
      ok = false;
      continue;
    }
    if (root != "input" || variable->path.size() < 2) continue;
    const auto* field = std::get_if<std::string>(&variable->path[1]);
    if (field == nullptr || flow_.input.Find(*field) != nullptr) continue;
    std::vector<std::string> names;
    for (const auto& input : flow_.input.fields()) names.push_back(input.name);
    context_.ErrorAt(OffsetLocation(node, text, variable->offset, length),
                     "unknown input '" + *field + "'" + DidYouMean(*field, names));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return compiled;
}

std::optional<expr::Expression> StepCompiler::CompileExpression(const std::string& name, const ConfigNode& node,
                                                                const BlockScope& /*scope*/) {
  // The expression module lands with branch `expr`; until then a flow
  // that needs one is refused with a clear message.
  context_.ErrorAt(node.where, "'" + name + "': expressions are not supported by this build yet");
  return std::nullopt;
}

}  // namespace flowrun
