// Internal to the CLI (the only CLI11 user): runs a CLI11 parser over a
// subcommand's arguments. One parser per call, on the calling thread.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace flowrun {

// nullopt when parsing succeeded; otherwise the exit code (0 after --help,
// 2 after a usage error, which CLI11 has already printed).
inline std::optional<int> ParseArgs(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());  // CLI11 consumes the vector from the back
  try {
    app.parse(args);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace flowrun
