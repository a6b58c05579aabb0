// The keys every step takes: `if`, `timeout_ms`, `retry`, `on_error`.
#include "flow/compile_context.h"

namespace flowrun {
namespace {

// Retries per step, and the longest timeout or backoff (a day): bounds
// that keep a typo from holding a run forever.
constexpr int kMaxStepAttempts = 100;
constexpr long long kMaxStepMs = 24LL * 60 * 60 * 1000;

std::optional<long long> WholeNumber(const ConfigNode& node) {
  if (!node.IsScalar() || !node.scalar.is_number_integer()) return std::nullopt;
  return node.scalar.get<long long>();
}

}  // namespace

void StepCompiler::CompilePolicy(const ConfigNode& item, const BlockScope& scope, FlowStep& step) {
  StepPolicy& policy = step.policy;
  if (const ConfigNode* condition = item.Find("if")) {
    if (!condition->IsScalar()) {
      context_.ErrorAt(condition->where, "'if' must be an expression, got " + condition->TypeName());
    } else {
      policy.condition = CompileExpression("if", *condition, scope);
    }
  }
  if (const ConfigNode* timeout = item.Find("timeout_ms")) {
    auto value = WholeNumber(*timeout);
    if (!value || *value < 1 || *value > kMaxStepMs) {
      context_.ErrorAt(timeout->where, "'timeout_ms' must be a whole number of milliseconds from 1 to " +
                                           std::to_string(kMaxStepMs));
    } else {
      policy.timeout_ms = *value;
    }
  }
  if (const ConfigNode* retry = item.Find("retry")) {
    if (!retry->IsMapping()) {
      context_.ErrorAt(retry->where,
                       "'retry' must be a mapping like {max_attempts: 3, backoff_ms: 500}, got " + retry->TypeName());
    } else {
      context_.CheckKeys(*retry, {"max_attempts", "backoff_ms"}, "'retry'");
      const ConfigNode* attempts = retry->Find("max_attempts");
      if (attempts == nullptr) {
        context_.ErrorAt(retry->where, "'retry' needs 'max_attempts' (how many times the step may run)");
      } else if (auto value = WholeNumber(*attempts); !value || *value < 1 || *value > kMaxStepAttempts) {
        context_.ErrorAt(attempts->where,
                         "'max_attempts' must be a whole number from 1 to " + std::to_string(kMaxStepAttempts));
      } else {
        policy.max_attempts = static_cast<int>(*value);
      }
      if (const ConfigNode* backoff = retry->Find("backoff_ms")) {
        auto value = WholeNumber(*backoff);
        if (!value || *value < 0 || *value > kMaxStepMs) {
          context_.ErrorAt(backoff->where, "'backoff_ms' must be a whole number of milliseconds from 0 to " +
                                               std::to_string(kMaxStepMs));
        } else {
          policy.backoff_ms = *value;
        }
      }
    }
  }
  if (const ConfigNode* on_error = item.Find("on_error")) {
    const std::string text = on_error->IsString() ? on_error->scalar.get<std::string>() : "";
    if (text == "fail") {
      policy.on_error = StepPolicy::OnError::kFail;
    } else if (text == "continue") {
      policy.on_error = StepPolicy::OnError::kContinue;
    } else if (on_error->IsSequence()) {
      policy.on_error = StepPolicy::OnError::kSteps;
      // The block itself is compiled after the step's own blocks (CompileStep): it comes last.
    } else {
      context_.ErrorAt(on_error->where, "'on_error' must be fail, continue or a list of steps, got " +
                                            (on_error->IsString() ? "'" + text + "'" : on_error->TypeName()) +
                                            (on_error->IsString() ? DidYouMean(text, {"fail", "continue"}) : ""));
    }
  }
}

}  // namespace flowrun
