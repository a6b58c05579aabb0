// Loads YAML text into a ConfigNode tree with source positions. src/config
// is the only yaml-cpp user (yaml_graph.cpp; this header shows no yaml-cpp
// type). Holds every document to the limits in config/flow_file_limits.h:
// never an exception, never unbounded memory or stack. Safe to call from
// several threads at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config_node.h"
#include "core/diagnostics.h"

namespace flowrun {

// Parses `source`; on a syntax error, a duplicate key or a limit reached
// adds to `diagnostics` and returns nullopt. Scalars become typed JSON:
// plain `12` is a number, `true` a boolean, `~`/`null` null, quoted text
// always a string. Aliases are expanded into copies.
std::optional<ConfigNode> ParseYaml(std::string_view source, Diagnostics& diagnostics);

}  // namespace flowrun
