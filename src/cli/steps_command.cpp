// `flowrun steps`: the registered step types with their parameters.
#include <iostream>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "core/json_text.h"

namespace flowrun {

int StepsCommand(const std::vector<std::string>& args, CommandContext& context) {
  CLI::App app("List the step types flows can use, with their parameters and defaults.", "flowrun steps");
  if (auto exit_code = ParseArgs(app, args)) return *exit_code;
  auto print_param = [](const ParamSpec& param) {
    std::cout << "  " << param.name << " (" << ParamTypeName(param.type) << (param.required ? ", required" : "");
    if (!param.default_value.is_null()) std::cout << ", default " << DumpJson(param.default_value);
    std::cout << ")";
    if (!param.description.empty()) std::cout << ": " << param.description;
    if (!param.allowed.empty()) {
      std::cout << " [";
      for (size_t i = 0; i < param.allowed.size(); ++i) std::cout << (i ? "|" : "") << param.allowed[i];
      std::cout << "]";
    }
    std::cout << "\n";
  };
  for (const auto& [name, type] : context.registry.types()) {
    std::cout << name << (type.control ? " (control)" : "") << ": " << type.description << "\n";
    for (const auto& param : type.params) print_param(param);
  }
  std::cout << "every step also takes:\n";
  for (const auto& param : CommonStepParams()) print_param(param);
  // Not a step's, but the other place a flow file takes parameters.
  std::cout << "a flow's `openai:` block (false: not served at /v1), its model at /v1/chat/completions:\n"
               "  model (string, default the flow's name): the id clients send\n"
               "  pass_through (list): request fields its model steps take [temperature|max_tokens|"
               "max_completion_tokens]\n"
               "  input (mapping): input name -> what of the messages it gets, default message: last_user_message, "
               "history: earlier_messages [last_user_message|earlier_messages|messages|system]\n";
  return 0;
}

}  // namespace flowrun
