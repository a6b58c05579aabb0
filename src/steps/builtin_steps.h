// The built-in step types. Each lives in its own file; RegisterBuiltinSteps
// (step_registry.h) adds them all. Each function returns a fresh StepType
// value; the steps their factories build follow step.h (shared, read-only,
// by concurrent runs).
#pragma once

#include "steps/step_registry.h"

namespace flowrun {

StepType AppendMessageStepType();
StepType AppendReplyStepType();
StepType LlmStreamStepType();
StepType HttpStepType();
// set, if, switch, loop, parallel, map, call, fail (control steps: no factory).
std::vector<StepType> ControlStepTypes();

}  // namespace flowrun
