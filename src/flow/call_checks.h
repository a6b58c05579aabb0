// The checks of `call` steps that need the flows beside a flow (the flows
// served with it, or the files of its directory for run and validate): a
// call to a flow that is not there, and calls that come back to the flow
// they started from. A cycle whose calls all run unconditionally can only
// end at the run's limit of nested calls: an error; one with a condition
// somewhere on it may be a deliberate recursion: a warning. Pure functions
// over immutable flows: thread-safe.
#pragma once

#include <string>
#include <vector>

#include "flow/flow.h"
#include "flow/flow_library.h"

namespace flowrun {

struct CallProblem {
  bool error = true;
  std::string text;  // formatted like a compiler's: file:line:col, the line and a caret
};

// The problems of `flow`'s calls, each call resolved in `library`.
std::vector<CallProblem> CheckCalls(const Flow& flow, const FlowLibrary& library);

}  // namespace flowrun
