// libFuzzer target: Template::Compile (templates v2: {{ }}, {% if/for/set/raw %},
// {# #}, whitespace control), then Reads, Check and Render against a fixed
// state with small limits. Properties: error offsets and reads lie inside
// the text, plain text renders as itself, the output stays within
// max_output_bytes, and a single {{ expr }} evaluates as the render does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "templates/template.h"
#include "fuzz_check.h"
#include "fuzz_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  flowrun::Template::CompileError error{"", 0};
  auto compiled = flowrun::Template::Compile(text, &error);
  if (!compiled) {
    // The offset places a caret in the flow file, so it must be inside the text.
    FUZZ_CHECK(!error.message.empty() && error.offset <= size);
    return 0;
  }
  for (const auto* variable : compiled->Variables()) {
    FUZZ_CHECK(!variable->path.empty() && variable->offset + variable->text.size() <= size);
  }
  for (const auto& read : compiled->Reads()) {
    FUZZ_CHECK(text.substr(read.where.offset, read.where.length) == read.text);
  }
  for (const auto& problem : compiled->Check({{"input", "history", "reply"}})) {
    FUZZ_CHECK(!problem.message.empty() && problem.where.offset <= size);
  }
  flowrun::expr::EvalLimits limits;
  limits.max_output_bytes = 4096;
  limits.max_iterations = 1000;
  flowrun::expr::JsonVariables variables(flowrun::fuzz::State());
  std::string out;
  const auto status = compiled->Render(variables, &out, limits);
  // Text without placeholders renders as itself.
  FUZZ_CHECK(!compiled->IsPlainText() || (status.ok() && out == text));
  FUZZ_CHECK(out.size() <= 4096 + 4096);  // the last piece may pass the limit once before it is refused
  if (const auto* single = compiled->SingleExpression(); single != nullptr && status.ok()) {
    const auto result = single->Evaluate(variables, limits);
    FUZZ_CHECK(result.ok() && flowrun::expr::ToText(result.value) == out);
  }
  return 0;
}
