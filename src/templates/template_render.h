// Renders a parsed template (template_tree.h) against variables. Reentrant:
// each call has its own scopes; the tree and the variables are only read.
// Private to src/templates.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "expr/expression.h"
#include "templates/template_tree.h"

namespace flowrun::template_internal {

// Clears *out and renders into it; a failed render leaves what was made so far.
Status RenderTemplate(const std::vector<Node>& body, const expr::Variables& variables,
                      const expr::EvalLimits& limits, std::string* out);

}  // namespace flowrun::template_internal
