// FlowCompiler: turns a parsed flow document (ConfigNode) into a runnable
// Flow, checking every key, type, step type, parameter and template
// against the registry, and the number of steps against kMaxFlowSteps.
// Reports every problem in one pass. Safe to call from several threads.
#pragma once

#include <memory>
#include <string>

#include "core/config_node.h"
#include "core/diagnostics.h"
#include "flow/flow.h"
#include "steps/step_registry.h"

namespace flowrun {

// nullptr when `diagnostics` gained an error.
std::shared_ptr<const Flow> CompileFlow(const ConfigNode& root, const StepRegistry& registry,
                                        const StepEnvironment& environment,
                                        Diagnostics& diagnostics);

// Paths flows may not claim: the server's own endpoints.
bool IsReservedPath(const std::string& path);

}  // namespace flowrun
