// Internal to the flow compiler: shared helpers for reporting problems at
// a ConfigNode's position. One context per compile, used by the thread
// that compiles (it writes to that compile's Diagnostics).
#pragma once

#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/diagnostics.h"
#include "core/edit_distance.h"
#include "flow/flow.h"
#include "steps/step_registry.h"

namespace flowrun {

struct CompileContext {
  Diagnostics& diagnostics;
  const StepRegistry& registry;
  const StepEnvironment& environment;

  void ErrorAt(const SourceLocation& where, std::string message) const {
    diagnostics.Error(where, std::move(message));
  }
  // "unknown key 'x'; did you mean 'y'?" for each key not in `allowed`.
  void CheckKeys(const ConfigNode& mapping, const std::vector<std::string>& allowed,
                 const std::string& what) const {
    for (const auto& [key, value] : mapping.entries) {
      bool known = false;
      for (const auto& name : allowed) known = known || name == key;
      if (!known) ErrorAt(value.key_where, "unknown key '" + key + "' in " + what + DidYouMean(key, allowed));
    }
  }
};

// Compiles the `steps:` list into `flow.steps`, checking templates against
// the declared inputs.
void CompileSteps(const ConfigNode& steps, const CompileContext& context, Flow& flow);

}  // namespace flowrun
