// Logging for flowrun: a thin facade so only one file includes spdlog.
// Text lines for people, or one JSON object per line for log pipelines.
// Thread-safe. Messages must never contain secrets.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace flowrun {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };
enum class LogFormat { kText, kJson };

void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);

void LogDebug(std::string_view message);
void LogInfo(std::string_view message);
void LogWarn(std::string_view message);
void LogError(std::string_view message);

// A message with structured fields: text format shows the message only
// (it should already read well), JSON format adds the fields.
void LogRecord(LogLevel level, std::string_view message, const nlohmann::json& fields);

}  // namespace flowrun
