// append-reply: pushes the model's reply onto history as an assistant message.
#include "steps/builtin_steps.h"

namespace flowrun {
namespace {

class AppendReplyStep : public Step {
 public:
  explicit AppendReplyStep(std::string from) : from_(std::move(from)) {}

  Status Run(StepContext& context) const override {
    auto found = context.state.find(from_);
    if (found == context.state.end() || !found->is_string()) {
      return Status::NotFound("there is no reply in '" + from_ +
                              "' to append; run an llm-stream step before this one");
    }
    nlohmann::json& history = context.state["history"];
    if (!history.is_array()) history = nlohmann::json::array();
    history.push_back({{"role", "assistant"}, {"content", *found}});
    return Status::Ok();
  }

 private:
  std::string from_;
};

}  // namespace

StepType AppendReplyStepType() {
  StepType type;
  type.name = "append-reply";
  type.description = "Pushes {role: assistant, content: <reply>} onto history.";
  type.writes = {"history"};
  type.key_params_read = {"from"};
  type.params = {
      {"from", ParamType::kString, false, "reply", "the state key holding the reply", {}},
  };
  type.factory = [](const StepConfig& config, const StepEnvironment&, Status*) {
    return std::make_unique<AppendReplyStep>(config.params.at("from").get<std::string>());
  };
  return type;
}

}  // namespace flowrun
