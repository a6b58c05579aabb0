// URI references as JSON Schema's $id and $ref use them: RFC 3986
// resolution of a reference against a base URI (any scheme, URNs too),
// splitting off the fragment, %-decoding it, and escaping JSON-pointer
// tokens. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace flowrun::schema_internal {

// RFC 3986 section 5.2: `reference` resolved against the absolute URI `base`.
std::string ResolveUri(std::string_view base, std::string_view reference);

// "http://x/a.json#/b" -> "http://x/a.json" and "/b" (no '#': an empty fragment).
void SplitFragment(std::string_view uri, std::string* without_fragment, std::string* fragment);

// "%25" -> "%", "%22" -> "\""; a '%' not followed by two hex digits stays as it is.
std::string PercentDecode(std::string_view text);

// A key as a JSON-pointer token: "~" -> "~0", "/" -> "~1".
std::string EscapePointerToken(std::string_view key);

}  // namespace flowrun::schema_internal
