// `flowrun validate [--strict] FILE|DIR...`: every problem in every file,
// one pass, the calls to flows that are not beside their file (or that
// cycle), and the flows that `serve` would refuse together (two on one
// endpoint). Warnings leave the exit code at 0 unless --strict.
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "flow/call_checks.h"
#include "flow/flow_catalog.h"
#include "flow/flow_library.h"
#include "flow/flow_loader.h"

namespace flowrun {

int ValidateCommand(const std::vector<std::string>& args, CommandContext& context) {
  CLI::App app("Check flow files and report every problem, compiler-style.", "flowrun validate");
  std::vector<std::string> paths;
  bool strict = false;
  app.add_option("paths", paths, "flow files or directories of them")->required();
  app.add_flag("--strict", strict, "warnings fail the check too (exit 1)");
  if (auto exit_code = ParseArgs(app, args)) return *exit_code;

  std::vector<std::string> errors;
  const auto files = ExpandFlowPaths(paths, &errors);
  for (const auto& error : errors) std::cerr << error << "\n";
  int failed = static_cast<int>(errors.size());
  std::set<std::string> seen;  // a file named twice is one flow, as in `serve`
  std::vector<std::shared_ptr<const Flow>> flows;
  int warnings = 0;
  for (const auto& file : files) {
    if (!seen.insert(file).second) continue;
    LoadResult result = LoadFlowFromFile(file, context.registry, context.environment);
    if (!result.flow) {
      std::cerr << result.diagnostics.ToString();
      ++failed;
      continue;
    }
    if (result.diagnostics.warning_count() > 0) {
      std::cerr << result.diagnostics.ToString();
      warnings += static_cast<int>(result.diagnostics.warning_count());
    }
    if (!result.flow->calls.empty()) {
      // `call` resolves among the flows beside the file (this one first).
      std::vector<std::shared_ptr<const Flow>> beside = {result.flow};
      for (auto& sibling : LoadSiblingFlows(file, context.registry, context.environment)) beside.push_back(sibling);
      bool call_errors = false;
      for (const auto& problem : CheckCalls(*result.flow, FlowLibrary(beside))) {
        std::cerr << problem.text;
        call_errors = call_errors || problem.error;
        if (!problem.error) ++warnings;
      }
      if (call_errors) {
        ++failed;
        continue;
      }
    }
    std::cout << file << ": ok (flow '" << result.flow->name << "', POST " << result.flow->endpoint << ", "
              << result.flow->steps.size() << " steps)\n";
    flows.push_back(result.flow);
  }
  for (const auto& clash : EndpointClashes(flows)) {
    std::cerr << "flowrun validate: error: " << clash << "\n";
    ++failed;
  }
  if (strict && warnings > 0 && failed == 0) {
    std::cerr << "flowrun validate: " << warnings << (warnings == 1 ? " warning" : " warnings")
              << ", and --strict makes warnings fail\n";
    return 1;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace flowrun
