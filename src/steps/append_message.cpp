// append-message: pushes {role, content} onto the run's history; the content
// is a template over the state.
#include "steps/builtin_steps.h"

namespace flowrun {
namespace {

class AppendMessageStep : public Step {
 public:
  AppendMessageStep(std::string role, Template content)
      : role_(std::move(role)), content_(std::move(content)) {}

  Status Run(StepContext& context) const override {
    std::string content;
    Status rendered = content_.Render(context.state, &content);
    if (!rendered.ok()) return rendered;
    nlohmann::json& history = context.state["history"];
    if (!history.is_array()) history = nlohmann::json::array();
    history.push_back({{"role", role_}, {"content", std::move(content)}});
    return Status::Ok();
  }

 private:
  std::string role_;
  Template content_;
};

}  // namespace

StepType AppendMessageStepType() {
  StepType type;
  type.name = "append-message";
  type.description = "Pushes {role, content} onto history; content is a template over the state.";
  type.writes = {"history"};
  type.params = {
      {"role", ParamType::kString, false, "user", "who says it", {"user", "assistant", "system"}},
      {"content", ParamType::kTemplate, true, nullptr, "the message text, e.g. \"{{ input.message }}\"", {}},
  };
  type.factory = [](const StepConfig& config, const StepEnvironment&, Status*) {
    return std::make_unique<AppendMessageStep>(config.params.at("role").get<std::string>(),
                                               config.templates.at("content"));
  };
  return type;
}

}  // namespace flowrun
