// Logging for flowrun: a thin facade so only one file includes spdlog.
// Thread-safe. Messages must never contain secrets.
#pragma once

#include <string_view>

namespace flowrun {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

void SetLogLevel(LogLevel level);
void LogDebug(std::string_view message);
void LogInfo(std::string_view message);
void LogWarn(std::string_view message);
void LogError(std::string_view message);

}  // namespace flowrun
