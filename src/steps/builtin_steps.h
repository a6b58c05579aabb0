// The built-in step types. Each lives in its own file; RegisterBuiltinSteps
// (step_registry.h) adds them all.
#pragma once

#include "steps/step_registry.h"

namespace flowrun {

StepType AppendMessageStepType();
StepType AppendReplyStepType();
StepType LlmStreamStepType();

}  // namespace flowrun
