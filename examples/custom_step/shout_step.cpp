// The `shout` step: a complete custom step in one file.
#include "shout_step.h"

#include <cctype>

namespace {

class ShoutStep : public flowrun::Step {
 public:
  ShoutStep(flowrun::Template text, std::string output, bool stream)
      : text_(std::move(text)), output_(std::move(output)), stream_(stream) {}

  flowrun::Status Run(flowrun::StepContext& context) const override {
    std::string rendered;
    if (auto status = text_.Render(context.state, &rendered); !status.ok()) return status;
    for (auto& c : rendered) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (stream_ && !context.emit_chunk(rendered)) return flowrun::Status::Cancelled();
    context.state[output_] = rendered;
    return flowrun::Status::Ok();
  }

 private:
  flowrun::Template text_;
  std::string output_;
  bool stream_;
};

}  // namespace

flowrun::StepType ShoutStepType() {
  flowrun::StepType type;
  type.name = "shout";
  type.description = "Upper-cases a template and stores it in `output`.";
  type.params = {
      {"text", flowrun::ParamType::kTemplate, true, nullptr, "what to shout", {}},
      {"output", flowrun::ParamType::kString, false, "shouted", "state key for the result", {}},
      {"stream", flowrun::ParamType::kBoolean, false, true, "also send it as a chunk", {}},
  };
  type.factory = [](const flowrun::StepConfig& config, const flowrun::StepEnvironment&, flowrun::Status*) {
    return std::make_unique<ShoutStep>(config.templates.at("text"), config.params.at("output"),
                                       config.params.at("stream").get<bool>());
  };
  return type;
}
