// libFuzzer target: InputSchema::Validate on a JSON request body, against a
// fixed schema that uses every input type, a default and length limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "flow/input_schema.h"
#include "fuzz_check.h"

namespace {

const flowrun::InputSchema& Schema() {
  static const flowrun::InputSchema schema([] {
    std::vector<flowrun::InputField> fields(7);
    fields[0] = {"message", "string", true, nullptr, 16, ""};
    fields[1] = {"count", "integer", false, 1, std::nullopt, ""};
    fields[2] = {"ratio", "number", false, nullptr, std::nullopt, ""};
    fields[3] = {"flag", "boolean", false, false, std::nullopt, ""};
    fields[4] = {"tags", "array", false, nlohmann::json::array(), 4, ""};
    fields[5] = {"meta", "object", false, nullptr, std::nullopt, ""};
    fields[6] = {"history", "messages", false, nlohmann::json::array(), 3, ""};
    return fields;
  }());
  return schema;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) return 0;
  flowrun::InputError error;
  const auto input = Schema().Validate(body, &error);
  if (!input) {
    FUZZ_CHECK(!error.message.empty());
    return 0;
  }
  // A valid body yields exactly the declared fields, with required ones set.
  FUZZ_CHECK(input->is_object() && input->size() == Schema().fields().size());
  for (const auto& field : Schema().fields()) {
    FUZZ_CHECK(input->contains(field.name));
    FUZZ_CHECK(!field.required || !(*input)[field.name].is_null());
  }
  (void)input->dump();
  (void)Schema().Describe().dump();
  return 0;
}
