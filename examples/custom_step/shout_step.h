// An example custom step type, `shout`: upper-cases a template's rendering
// and stores it in the state (and streams it as a chunk when asked).
#pragma once

#include "steps/step_registry.h"

flowrun::StepType ShoutStepType();
