// Loads YAML text into a ConfigNode tree with source positions. The only
// yaml-cpp user in flowrun. Accepts a string (for tests) or a file path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config_node.h"
#include "core/diagnostics.h"

namespace flowrun {

// Parses `source`; on a syntax error or duplicate key adds to `diagnostics`
// and returns nullopt. Scalars become typed JSON: plain `12` is a number,
// `true` a boolean, `~`/`null` null, quoted text always a string.
std::optional<ConfigNode> ParseYaml(std::string_view source, Diagnostics& diagnostics);

// Reads a file's text; nullopt (with a diagnostic) when it cannot be read.
std::optional<std::string> ReadTextFile(const std::string& path, Diagnostics& diagnostics);

}  // namespace flowrun
