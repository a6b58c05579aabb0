// `flowrun validate FILE|DIR...`: every problem in every file, one pass,
// and the flows that `serve` would refuse together (two on one endpoint).
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "flow/flow_catalog.h"
#include "flow/flow_loader.h"

namespace flowrun {

int ValidateCommand(const std::vector<std::string>& args, CommandContext& context) {
  CLI::App app("Check flow files and report every problem, compiler-style.", "flowrun validate");
  std::vector<std::string> paths;
  app.add_option("paths", paths, "flow files or directories of them")->required();
  if (auto exit_code = ParseArgs(app, args)) return *exit_code;

  std::vector<std::string> errors;
  const auto files = ExpandFlowPaths(paths, &errors);
  for (const auto& error : errors) std::cerr << error << "\n";
  int failed = static_cast<int>(errors.size());
  std::set<std::string> seen;  // a file named twice is one flow, as in `serve`
  std::vector<std::shared_ptr<const Flow>> flows;
  for (const auto& file : files) {
    if (!seen.insert(file).second) continue;
    LoadResult result = LoadFlowFromFile(file, context.registry, context.environment);
    if (!result.flow) {
      std::cerr << result.diagnostics.ToString();
      ++failed;
      continue;
    }
    std::cout << file << ": ok (flow '" << result.flow->name << "', POST " << result.flow->endpoint << ", "
              << result.flow->steps.size() << " steps)\n";
    flows.push_back(result.flow);
  }
  for (const auto& clash : EndpointClashes(flows)) {
    std::cerr << "flowrun validate: error: " << clash << "\n";
    ++failed;
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace flowrun
