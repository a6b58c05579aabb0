// Internal to the CLI: each subcommand's entry point. Each runs on the
// calling (main) thread; `serve` starts and stops its own threads.
#pragma once

#include <string>
#include <vector>

#include "steps/step_registry.h"

namespace flowrun {

struct CommandContext {
  std::string program;  // "flowrun"
  const StepRegistry& registry;
  StepEnvironment environment;
};

// `args` excludes the program and command name.
int RunCommand(const std::vector<std::string>& args, CommandContext& context);
int ValidateCommand(const std::vector<std::string>& args, CommandContext& context);
int ServeCommand(const std::vector<std::string>& args, CommandContext& context);
int GraphCommand(const std::vector<std::string>& args, CommandContext& context);
int StepsCommand(const std::vector<std::string>& args, CommandContext& context);

}  // namespace flowrun
