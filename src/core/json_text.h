// DumpJson: JSON text that never throws. User text (YAML, request bodies,
// model output) may hold invalid UTF-8; it is replaced with U+FFFD rather
// than aborting a request or a run. Pure function; thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace flowrun {

inline std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace flowrun
