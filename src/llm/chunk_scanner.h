// ScanOpenAiChunk: the fast path for reading one streamed chat.completion.chunk
// (one call per token). A single pass over the bytes that validates the JSON
// and picks out what ParseOpenAiChunk needs, without nlohmann's lexer (a
// third of the per-token cost in the benchmark's profile). It only notes
// whether a chunk carries usage, so a token's chunk costs no more. It declines
// tool-call, reasoning and refusal deltas, and whatever it is not sure about (a repeated key on the path, exponents, lone
// surrogates, broken JSON or UTF-8, ...) and the general parser decides.
// Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace flowrun {

struct ScannedChunk {
  std::string content;        // choices[0].delta.content when a string, else empty
  bool finished = false;      // choices[0].finish_reason is present and not null
  std::string finish_reason;  // choices[0].finish_reason when a string, else empty
  bool has_error = false;     // the root's "error" is present and not null
  // The root's "usage" is present and not null (only the last chunk of a
  // stream asked for usage): the caller reads it with the general parser.
  bool has_usage = false;
};

// True when `data` is one valid JSON object and `*out` says what it means;
// false when the caller must use the general parser (`*out` is then
// unspecified).
bool ScanOpenAiChunk(std::string_view data, ScannedChunk* out);

}  // namespace flowrun
