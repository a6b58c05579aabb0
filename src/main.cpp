// flowrun's entry point: the built-in steps, then the command line.
#include "cli/cli.h"

int main(int argc, char** argv) {
  flowrun::StepRegistry registry;
  flowrun::RegisterBuiltinSteps(registry);
  return flowrun::RunCli(argc, argv, registry);
}
