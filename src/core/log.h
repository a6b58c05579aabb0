// Logging for flowrun: a thin facade so only one file includes spdlog.
// Text lines for people, or one JSON object per line for log pipelines.
// Text lines never carry raw control bytes (see EscapeForTextLog); JSON
// lines are escaped by JSON. Thread-safe. Messages must never contain secrets.
#pragma once

#include <string>
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
// (it should already read well), JSON format adds the fields. Records carry
// what clients send (paths, methods, error texts): in text format every
// control byte, newlines included, is escaped. LogInfo and the others keep
// '\n' and '\t' (multi-line diagnostics).
void LogRecord(LogLevel level, std::string_view message, const nlohmann::json& fields);

// `text` with each byte a terminal could act on written as \xNN: bytes
// below 0x20 and 0x7f, the C1 controls U+0080..U+009F, and bytes that are
// not part of valid UTF-8. With `keep_newlines`, '\n' and '\t' stay.
std::string EscapeForTextLog(std::string_view text, bool keep_newlines);

}  // namespace flowrun
