// Dispatch from argv to a subcommand, with help and "did you mean".
#include "cli/cli.h"

#include <iostream>

#include "cli/commands.h"
#include "core/edit_distance.h"

namespace flowrun {
namespace {

struct CommandEntry {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&, CommandContext&);
};

constexpr CommandEntry kCommands[] = {
    {"run", "run a flow once and print its output", RunCommand},
    {"validate", "check flow files and report every problem", ValidateCommand},
    {"serve", "serve flows as HTTP endpoints that stream Server-Sent Events", ServeCommand},
    {"graph", "print a flow as a graph (Mermaid or Graphviz DOT)", GraphCommand},
    {"steps", "list the step types flows can use, with their parameters", StepsCommand},
};

void PrintHelp(std::ostream& out) {
  out << "flowrun: run LLM flows declared in YAML, once or as streaming HTTP endpoints\n\n"
         "usage: flowrun <command> [options]\n\ncommands:\n";
  for (const auto& command : kCommands) {
    std::string name = command.name;
    out << "  " << name << std::string(10 - name.size(), ' ') << command.summary << "\n";
  }
  out << "\n'flowrun <command> --help' shows a command's options.\n";
}

}  // namespace

int RunCli(int argc, char** argv, const StepRegistry& registry) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintHelp(args.empty() ? std::cerr : std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "flowrun 0.1.0\n";
    return 0;
  }
  CommandContext context{"flowrun", registry, DefaultStepEnvironment()};
  std::vector<std::string> names;
  for (const auto& command : kCommands) {
    names.push_back(command.name);
    if (args[0] == command.name) {
      return command.run(std::vector<std::string>(args.begin() + 1, args.end()), context);
    }
  }
  std::cerr << "flowrun: unknown command '" << args[0] << "'" << DidYouMean(args[0], names)
            << "\nrun 'flowrun --help' for the list of commands\n";
  return 2;
}

}  // namespace flowrun
