// libFuzzer target: ScanOpenAiChunk, differentially. Whenever the fast
// scanner accepts a document, a DOM (nlohmann) must read the same meaning
// from it: a JSON object, its "error" and "usage", choices[0].delta.content
// and choices[0].finish_reason (and its text). Declining is always allowed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "llm/chunk_scanner.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  flowrun::ScannedChunk chunk;
  if (!flowrun::ScanOpenAiChunk(text, &chunk)) return 0;
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!doc.is_discarded() && doc.is_object());
  const bool error = doc.contains("error") && !doc["error"].is_null();
  FUZZ_CHECK(chunk.has_error == error);
  if (error) return 0;
  FUZZ_CHECK(chunk.has_usage == (doc.contains("usage") && !doc["usage"].is_null()));
  std::string content;
  bool finished = false;
  std::string finish_reason;
  if (doc.contains("choices") && doc["choices"].is_array() && !doc["choices"].empty() &&
      doc["choices"][0].is_object()) {
    const nlohmann::json& choice = doc["choices"][0];
    if (choice.contains("delta") && choice["delta"].is_object() && choice["delta"].contains("content") &&
        choice["delta"]["content"].is_string()) {
      content = choice["delta"]["content"].get<std::string>();
    }
    finished = choice.contains("finish_reason") && !choice["finish_reason"].is_null();
    if (finished && choice["finish_reason"].is_string()) finish_reason = choice["finish_reason"].get<std::string>();
  }
  FUZZ_CHECK(chunk.content == content);
  FUZZ_CHECK(chunk.finished == finished);
  FUZZ_CHECK(chunk.finish_reason == finish_reason);
  return 0;
}
