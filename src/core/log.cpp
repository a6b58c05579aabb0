// spdlog-backed implementation of the logging facade; logs go to stderr so
// stdout stays clean for `flowrun run` output.
#include "core/log.h"

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

void Write(LogLevel level, std::string_view message, const nlohmann::json* fields) {
  auto& logger = Logger();
  if (!logger.should_log(ToSpdlog(level))) return;
  if (log_format.load() == LogFormat::kText) {
    logger.log(ToSpdlog(level), "{}", message);
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
