// libFuzzer target: expr::Expression::Parse, then Check, Reads and Evaluate
// against a fixed state with small limits. Properties: error offsets lie
// inside the text, reads point at their own text, evaluation never crashes
// or exceeds its limits, and a string result stays within max_output_bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "expr/expression.h"
#include "fuzz_check.h"
#include "fuzz_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  flowrun::expr::ExprError error;
  auto expression = flowrun::expr::Expression::Parse(text, &error);
  if (!expression) {
    // The offset places a caret in the flow file, so it must be inside the text (or just past it).
    FUZZ_CHECK(!error.message.empty() && error.where.offset <= size && error.where.length >= 1);
    return 0;
  }
  for (const auto& problem : expression->Check({{"input", "history", "reply"}})) {
    FUZZ_CHECK(!problem.message.empty() && problem.where.offset + problem.where.length <= size + 1);
  }
  for (const auto& read : expression->Reads()) {
    FUZZ_CHECK(read.where.offset + read.where.length <= size && !read.root.empty());
    FUZZ_CHECK(text.substr(read.where.offset, read.where.length) == read.text);
  }
  flowrun::expr::EvalLimits limits;
  limits.max_output_bytes = 4096;
  limits.max_depth = 32;
  const auto result = expression->Evaluate(flowrun::expr::JsonVariables(flowrun::fuzz::State()), limits);
  FUZZ_CHECK(result.ok() != result.error.has_value());
  if (result.ok() && result.value.is_string()) FUZZ_CHECK(result.value.get_ref<const std::string&>().size() <= 4096);
  return 0;
}
