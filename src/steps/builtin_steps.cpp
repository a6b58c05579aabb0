// The explicit list of built-in step types.
#include "steps/builtin_steps.h"

namespace flowrun {

void RegisterBuiltinSteps(StepRegistry& registry) {
  // Names are distinct, so registration cannot fail here.
  registry.Register(AppendMessageStepType());
  registry.Register(LlmStreamStepType());
  registry.Register(AppendReplyStepType());
  registry.Register(HttpStepType());
  for (auto& type : ControlStepTypes()) registry.Register(std::move(type));
}

}  // namespace flowrun
