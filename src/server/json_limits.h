// Limits on a request body's JSON shape, checked before the DOM is built:
// a 1 MiB body of `[{},{},...]` is a few hundred thousand objects, each a
// heap allocation, so its DOM is far larger than its text. A counting SAX
// pass (no allocation per value) stops at the first limit reached.
// Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/status.h"

namespace flowrun {

struct JsonLimits {
  std::size_t max_depth = 64;        // nested arrays/objects; `{}` is depth 1
  std::size_t max_elements = 10000;  // values of any kind, the outermost included
};

// Ok when `text` is one JSON value within `limits`; else the message for the
// client (the first limit reached, or "not valid JSON").
Status CheckJsonShape(std::string_view text, const JsonLimits& limits);

}  // namespace flowrun
