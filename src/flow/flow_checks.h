// The checks before running that need a whole flow (issue #11, "checks
// before running"), run by CompileFlow once every step compiled:
// - a read of a state key that some path to it leaves unset: a warning,
//   unless the read says `| default(...)` or `is defined`;
// - two parallel branches that may write the same state key: an error;
// - two parallel branches that may stream to the client at once, unless the
//   parallel step says `stream: interleave`: an error (in a map with
//   `concurrency` above 1: a warning, items stream interleaved);
// - steps after an unconditional `fail`, which can never run: a warning.
// It also lists the flow's `call` sites (Flow::calls) for CheckCalls.
// Works on the document and the compiled tree together; pure, so safe on
// any thread (each compile has its own Diagnostics).
#pragma once

#include "core/config_node.h"
#include "flow/compile_context.h"
#include "flow/flow.h"

namespace flowrun {

void CheckFlowSteps(const ConfigNode& steps, const CompileContext& context, Flow& flow);

}  // namespace flowrun
