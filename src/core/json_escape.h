// JSON string literals written straight into a buffer, without building a
// nlohmann::json value: the hot path of SSE chunk framing. The output is
// byte-identical to DumpJson(nlohmann::json(text)) (src/core/json_text.h).
// Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace flowrun {

// Appends `text` as a quoted JSON string to `out`, escaping exactly as
// nlohmann's dump does with ensure_ascii off: `"` and `\`, \b \f \n \r \t,
// other control characters as \u00XX (lowercase hex); everything else,
// multi-byte UTF-8 and DEL included, is copied as is. Returns false, and
// leaves `out` unchanged, when `text` is not well-formed UTF-8.
bool AppendJsonStringIfValidUtf8(std::string_view text, std::string& out);

// As above, but never fails: text that is not well-formed UTF-8 goes through
// DumpJson, which replaces each bad sequence with U+FFFD.
void AppendJsonString(std::string_view text, std::string& out);

}  // namespace flowrun
