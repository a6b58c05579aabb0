// `flowrun run FILE`: one run, chunks to stdout as they arrive (or every
// event as a JSON line with --events); exit 0 only on a clean finish.
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "cli/parse_args.h"
#include "core/json_text.h"
#include "flow/call_checks.h"
#include "flow/flow_loader.h"
#include "flow/runner.h"

namespace flowrun {
namespace {

// `--input key=value`: strings stay strings; other declared types parse as JSON.
bool AddInputPair(const std::string& pair, const Flow& flow, nlohmann::json& body) {
  size_t equals = pair.find('=');
  if (equals == std::string::npos || equals == 0) {
    std::cerr << "flowrun run: --input expects key=value, got '" << pair << "'\n";
    return false;
  }
  std::string key = pair.substr(0, equals);
  std::string value = pair.substr(equals + 1);
  const InputField* field = flow.input.Find(key);
  if (field != nullptr && field->type != "string") {
    auto parsed = nlohmann::json::parse(value, nullptr, false);
    if (!parsed.is_discarded()) {
      body[key] = parsed;
      return true;
    }
  }
  body[key] = value;
  return true;
}

std::optional<nlohmann::json> ReadBody(const std::vector<std::string>& pairs, const std::string& input_json,
                                       const Flow& flow) {
  nlohmann::json body = nlohmann::json::object();
  std::string text = input_json;
  if (text.empty() && pairs.empty() && !isatty(STDIN_FILENO)) {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
    body = nlohmann::json::parse(text, nullptr, false);
    if (body.is_discarded()) {
      std::cerr << "flowrun run: the input is not valid JSON\n";
      return std::nullopt;
    }
  }
  for (const auto& pair : pairs) {
    if (!body.is_object() || !AddInputPair(pair, flow, body)) return std::nullopt;
  }
  return body;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args, CommandContext& context) {
  CLI::App app("Run a flow once. Input comes from --input, --input-json, or JSON on stdin.", "flowrun run");
  std::string file;
  std::vector<std::string> pairs;
  std::string input_json;
  bool events = false;
  app.add_option("file", file, "the flow file")->required();
  app.add_option("--input,-i", pairs, "an input field as key=value (repeatable)");
  app.add_option("--input-json", input_json, "all inputs as one JSON object");
  app.add_flag("--events", events, "print every event as a JSON object per line");
  if (auto exit_code = ParseArgs(app, args)) return *exit_code;

  LoadResult loaded = LoadFlowFromFile(file, context.registry, context.environment);
  if (!loaded.flow) {
    std::cerr << loaded.diagnostics.ToString();
    return 1;
  }
  if (loaded.diagnostics.warning_count() > 0) std::cerr << loaded.diagnostics.ToString();
  const Flow& flow = *loaded.flow;
  auto body = ReadBody(pairs, input_json, flow);
  if (!body) return 2;
  InputError input_error;
  auto input = flow.input.Validate(*body, &input_error);
  if (!input) {
    std::cerr << "flowrun run: " << input_error.message << "\n";
    return 2;
  }

  // `call` steps run the flows beside this one (this one first: its name wins).
  std::shared_ptr<const FlowLibrary> library;
  if (!flow.calls.empty()) {
    std::vector<std::shared_ptr<const Flow>> flows = {loaded.flow};
    for (auto& sibling : LoadSiblingFlows(file, context.registry, context.environment)) flows.push_back(sibling);
    library = std::make_shared<const FlowLibrary>(flows);
    bool call_errors = false;
    for (const auto& problem : CheckCalls(flow, *library)) {
      std::cerr << problem.text;
      call_errors = call_errors || problem.error;
    }
    if (call_errors) return 1;
  }
  bool wrote_text = false;
  char last_char = '\n';
  Cancellation cancel;
  RunResult result = RunFlow(
      flow, *input,
      [&](const Event& event) {
    if (events) {
      std::cout << DumpJson(EventToJson(event)) << std::endl;
    } else if (event.type == Event::Type::kChunk && !event.text.empty()) {
      std::cout << event.text;
      wrote_text = true;
      last_char = event.text.back();
    }
    return static_cast<bool>(std::cout);
      },
      cancel, [] { return static_cast<bool>(std::cout.flush()); },  // the model has nothing more ready: show what came
      library);
  if (wrote_text && last_char != '\n') std::cout << std::endl;
  if (!result.ok) {
    std::cerr << "flowrun run: error in step '" << result.error_step << "': " << result.error << "\n";
    return 1;
  }
  return 0;
}

}  // namespace flowrun
