// spdlog-backed implementation of the logging facade; logs go to stderr so
// stdout stays clean for `flowrun run` output.
#include "core/log.h"

#include <algorithm>
#include <atomic>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/json_text.h"

namespace flowrun {
namespace {

std::atomic<LogFormat> log_format{LogFormat::kText};

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = spdlog::stderr_color_mt("flowrun");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    return created;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  static constexpr spdlog::level::level_enum kLevels[] = {
      spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err, spdlog::level::off};
  return kLevels[static_cast<int>(level)];
}

// Length of the valid UTF-8 sequence at the start of `text` (0: invalid).
size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  unsigned min = 0;
  unsigned code = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, min = 0x80, code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, min = 0x800, code = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, min = 0x10000, code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
  if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return 0;
  return length;
}

bool IsC1Control(std::string_view sequence) {
  return sequence.size() == 2 && static_cast<unsigned char>(sequence[0]) == 0xc2 &&
         static_cast<unsigned char>(sequence[1]) <= 0x9f;
}

void Write(LogLevel level, std::string_view message, const nlohmann::json* fields) {
  auto& logger = Logger();
  if (!logger.should_log(ToSpdlog(level))) return;
  if (log_format.load() == LogFormat::kText) {
    logger.log(ToSpdlog(level), "{}", EscapeForTextLog(message, /*keep_newlines=*/fields == nullptr));
    return;
  }
  nlohmann::json line = {{"msg", message}};
  if (fields != nullptr && fields->is_object()) line.update(*fields);
  std::string text = DumpJson(line);
  // The pattern opens the object with time and level; the rest follows.
  text.erase(0, 1);
  logger.log(ToSpdlog(level), "{}", text);
}

}  // namespace

std::string EscapeForTextLog(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool kept = keep_newlines && (byte == '\n' || byte == '\t');
    const size_t length = Utf8SequenceLength(text.substr(i));
    const std::string_view sequence = text.substr(i, length);
    if (kept || (length == 1 && byte >= 0x20 && byte != 0x7f) || (length > 1 && !IsC1Control(sequence))) {
      out.append(sequence);
      i += length;
      continue;
    }
    // One escaped byte; what follows an invalid lead byte is looked at anew.
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t j = 0; j < std::max<size_t>(length, 1); ++j) {
      const auto escaped = static_cast<unsigned char>(text[i + j]);
      out += "\\x";
      out += kHex[escaped >> 4];
      out += kHex[escaped & 0xf];
    }
    i += std::max<size_t>(length, 1);
  }
  return out;
}

void SetLogLevel(LogLevel level) { Logger().set_level(ToSpdlog(level)); }

void SetLogFormat(LogFormat format) {
  log_format.store(format);
  Logger().set_pattern(format == LogFormat::kJson ? R"({"time":"%Y-%m-%dT%H:%M:%S.%e","level":"%l",%v)"
                                                  : "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

void LogDebug(std::string_view message) { Write(LogLevel::kDebug, message, nullptr); }
void LogInfo(std::string_view message) { Write(LogLevel::kInfo, message, nullptr); }
void LogWarn(std::string_view message) { Write(LogLevel::kWarn, message, nullptr); }
void LogError(std::string_view message) { Write(LogLevel::kError, message, nullptr); }

void LogRecord(LogLevel level, std::string_view message, const nlohmann::json& fields) {
  Write(level, message, &fields);
}

}  // namespace flowrun
