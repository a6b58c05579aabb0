// libFuzzer target: Template::Compile, then Render against a fixed state.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "templates/template.h"
#include "fuzz_check.h"

namespace {

const nlohmann::json& State() {
  static const nlohmann::json state = nlohmann::json::parse(R"({
    "input": {"message": "hi", "count": 3, "ratio": 0.5, "flag": true, "nothing": null,
              "list": [1, "two", {"k": "v"}], "obj": {"a": {"b": [[], {}]}}},
    "history": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "héllo"}],
    "reply": "ok"
  })");
  return state;
}

}  // namespace

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
  std::string out;
  const auto status = compiled->Render(State(), &out);
  // Text without placeholders renders as itself.
  FUZZ_CHECK(!compiled->IsPlainText() || (status.ok() && out == text));
  return 0;
}
