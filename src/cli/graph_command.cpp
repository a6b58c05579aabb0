// `flowrun graph FILE [--format mermaid|dot|json]`: the flow as a picture
// (steps in order, control blocks, loops with their bound, calls). The file
// is checked first with the same diagnostics as `validate`.
#include <iostream>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "core/json_text.h"
#include "flow/flow_loader.h"

namespace flowrun {

int GraphCommand(const std::vector<std::string>& args, CommandContext& context) {
  CLI::App app("Print a flow as a graph: Mermaid (default), Graphviz DOT or JSON.", "flowrun graph");
  std::string file;
  std::string format = "mermaid";
  app.add_option("file", file, "the flow file")->required();
  app.add_option("--format", format, "mermaid (default), dot or json")
      ->check(CLI::IsMember({"mermaid", "dot", "json"}));
  if (auto exit_code = ParseArgs(app, args)) return *exit_code;

  LoadResult result = LoadFlowFromFile(file, context.registry, context.environment);
  if (!result.flow) {
    std::cerr << result.diagnostics.ToString();
    return 1;
  }
  const FlowGraph& graph = *result.flow->graph;
  if (format == "dot") {
    std::cout << GraphToDot(graph);
  } else if (format == "json") {
    std::cout << DumpJson(GraphToJson(graph)) << "\n";
  } else {
    std::cout << GraphToMermaid(graph);
  }
  return 0;
}

}  // namespace flowrun
