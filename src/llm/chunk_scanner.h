// ScanOpenAiChunk: the fast path for reading one streamed chat.completion.chunk
// (one call per token). A single pass over the bytes that validates the JSON
// and picks out what ParseOpenAiChunk needs, without nlohmann's lexer (a
// third of the per-token cost in the benchmark's profile). It declines
// whatever it is not sure about (a repeated key on the path, exponents, lone
// surrogates, broken JSON or UTF-8, ...) and the general parser decides.
// Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace flowrun {

struct ScannedChunk {
  std::string content;     // choices[0].delta.content when a string, else empty
  bool finished = false;   // choices[0].finish_reason is present and not null
  bool has_error = false;  // the root's "error" is present and not null
};

// True when `data` is one valid JSON object and `*out` says what it means;
// false when the caller must use the general parser (`*out` is then
// unspecified).
bool ScanOpenAiChunk(std::string_view data, ScannedChunk* out);

}  // namespace flowrun
