// libFuzzer target: the YAML flow loader (yaml-cpp parse, flow compile) and
// the compiler-style diagnostics it formats (source line + caret).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/json_text.h"
#include "flow/flow_loader.h"
#include "llm/mock_client.h"
#include "steps/step_registry.h"
#include "fuzz_check.h"

namespace {

const flowrun::StepRegistry& Registry() {
  static const flowrun::StepRegistry registry = [] {
    flowrun::StepRegistry built;
    flowrun::RegisterBuiltinSteps(built);
    return built;
  }();
  return registry;
}

// No environment variables and only the offline mock model: nothing leaves the process.
const flowrun::StepEnvironment& Environment() {
  static const flowrun::StepEnvironment environment{
      [](const std::string&) -> std::optional<std::string> { return std::nullopt; },
      [](const flowrun::ProviderSettings&) -> std::shared_ptr<flowrun::LlmClient> {
        return flowrun::MakeMockClient({});
      }};
  return environment;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto result = flowrun::LoadFlowFromString(source, "fuzz.yaml", Registry(), Environment());
  const std::string text = result.diagnostics.ToString();
  // A flow loads exactly when nothing was reported, and every report is shown.
  FUZZ_CHECK((result.flow != nullptr) == result.diagnostics.empty());
  FUZZ_CHECK(result.diagnostics.empty() || !text.empty());
  // As GET /flows renders it (invalid UTF-8 in a default must not throw).
  if (result.flow) (void)flowrun::DumpJson(result.flow->input.Describe());
  return 0;
}
