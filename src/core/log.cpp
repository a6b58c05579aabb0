// spdlog-backed implementation of the logging facade; logs go to stderr so
// stdout stays clean for `flowrun run` output.
#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace flowrun {
namespace {

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto created = spdlog::stderr_color_mt("flowrun");
    created->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    return created;
  }();
  return *logger;
}

}  // namespace

void SetLogLevel(LogLevel level) {
  static constexpr spdlog::level::level_enum kLevels[] = {
      spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err, spdlog::level::off};
  Logger().set_level(kLevels[static_cast<int>(level)]);
}

void LogDebug(std::string_view message) { Logger().debug("{}", message); }
void LogInfo(std::string_view message) { Logger().info("{}", message); }
void LogWarn(std::string_view message) { Logger().warn("{}", message); }
void LogError(std::string_view message) { Logger().error("{}", message); }

}  // namespace flowrun
