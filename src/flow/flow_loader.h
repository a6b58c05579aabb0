// Loading flows from text or files: YAML parse, then compile. The entry
// point the CLI, the server and tests use. Every problem, a file that cannot
// be read and a limit reached included, comes back as diagnostics, never as
// an exception. Safe to call from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostics.h"
#include "flow/flow.h"
#include "steps/step_registry.h"

namespace flowrun {

struct LoadResult {
  std::shared_ptr<const Flow> flow;  // nullptr on error
  Diagnostics diagnostics;
};

LoadResult LoadFlowFromString(std::string_view source, const std::string& file_name,
                              const StepRegistry& registry, const StepEnvironment& environment);

LoadResult LoadFlowFromFile(const std::string& path, const StepRegistry& registry,
                            const StepEnvironment& environment);

// The flows beside `path` (the other *.yaml / *.yml files of its
// directory, not below it) that load without error: what `call` steps in
// `path`'s flow may run. A sibling that does not load is left out (a call
// to it then fails as a call to a missing flow). Never throws.
std::vector<std::shared_ptr<const Flow>> LoadSiblingFlows(const std::string& path, const StepRegistry& registry,
                                                          const StepEnvironment& environment);

// Expands directories into their *.yaml / *.yml entries (sorted; anything
// but a directory, so that a FIFO or a broken link is reported by the
// loader, not skipped); files stay as given. Missing paths and directories
// that cannot be listed are reported in `errors`. Never throws.
std::vector<std::string> ExpandFlowPaths(const std::vector<std::string>& paths,
                                         std::vector<std::string>* errors);

}  // namespace flowrun
