// flowrun with one extra step type: the built-ins, then `shout`, then the
// usual command line (run, validate, serve, steps).
#include "cli/cli.h"
#include "shout_step.h"

int main(int argc, char** argv) {
  flowrun::StepRegistry registry;
  flowrun::RegisterBuiltinSteps(registry);
  registry.Register(ShoutStepType());
  return flowrun::RunCli(argc, argv, registry);
}
