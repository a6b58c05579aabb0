// The flowrun command line: a table of subcommands (run, validate, serve,
// graph, steps). Programs that add their own step types call RunCli with their
// registry (see examples/custom_step). Call it once per process, from the
// main thread: `serve` blocks SIGINT/SIGTERM/SIGHUP and waits for them there.
#pragma once

#include "steps/step_registry.h"

namespace flowrun {

// Exit codes: 0 success; 1 an invalid flow or a failed run; 2 a usage or input error.
int RunCli(int argc, char** argv, const StepRegistry& registry);

}  // namespace flowrun
