// Accepted API keys from their two sources, --api-key-file and
// FLOWRUN_API_KEYS. Fails closed: a source that is given but yields no key,
// or a line that does not read as exactly one key (e.g. `k5 # comment`), is
// an error, never a server that silently runs open or with a surprising key.
// Messages name the source and the line or entry, never the key itself.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace flowrun {

// Keys shorter than this get a start-up warning (guessable).
inline constexpr std::size_t kMinApiKeyLength = 16;

struct ApiKeys {
  std::vector<std::string> keys;
  std::vector<std::string> warnings;  // e.g. a short key; safe to print
};

// A key file's text: one key per line, surrounding whitespace trimmed; blank
// lines, and lines whose first non-blank character is '#', are ignored. A
// key with whitespace or a control character inside is an error naming
// `file:line`. A file without any key is an error. Appends to `*out`.
Status ParseApiKeyFile(std::string_view text, const std::string& file, ApiKeys* out);

// FLOWRUN_API_KEYS: comma-separated keys, each trimmed; empty entries are
// skipped. A value that is set (even to "") but yields no key is an error,
// as is an entry with whitespace or a control character inside.
// Appends to `*out`.
Status ParseApiKeyList(std::string_view list, ApiKeys* out);

}  // namespace flowrun
