// Request log lines, text or JSON (see core/log.h).
#include "server/request_log.h"

#include <atomic>
#include <cstdio>
#include <random>

#include "core/json_text.h"
#include "core/log.h"

namespace flowrun {
namespace {

std::string Milliseconds(double ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f ms", ms);
  return text;
}

double Round(double ms) { return static_cast<double>(static_cast<long long>(ms * 100)) / 100; }

std::string Prefix(const RequestInfo& info) {
  return "[" + info.id + "] " + info.method + " " + info.path + (info.flow.empty() ? "" : " (" + info.flow + ")");
}

nlohmann::json Fields(const RequestInfo& info, int status) {
  nlohmann::json fields = {{"request_id", info.id}, {"method", info.method}, {"path", info.path}, {"status", status}};
  if (!info.flow.empty()) fields["flow"] = info.flow;
  return fields;
}

}  // namespace

std::string RequestIdFor(const HttpRequest& request) {
  const std::string given = request.Header("x-request-id");
  if (!given.empty() && given.size() <= 64 &&
      given.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == std::string::npos) {
    return given;
  }
  // A per-process random prefix keeps ids unique across replicas and restarts.
  static const std::string prefix = [] {
    char text[16];
    std::snprintf(text, sizeof(text), "%06x", static_cast<unsigned>(std::random_device{}() & 0xffffff));
    return std::string(text);
  }();
  static std::atomic<unsigned long long> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

void LogResponse(const RequestInfo& info, const HttpResponse& response) {
  std::string line = Prefix(info) + " " + std::to_string(response.status);
  nlohmann::json fields = Fields(info, response.status);
  if (response.status >= 400) {
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    nlohmann::json error = body.is_object() ? body.value("error", nlohmann::json()) : nlohmann::json();
    if (error.is_object()) error = error.value("message", nlohmann::json());  // the OpenAI shape (/v1)
    if (error.is_string()) {
      line += ": " + error.get<std::string>();
      fields["error"] = error;
    }
    LogRecord(LogLevel::kInfo, line, fields);
  } else {
    LogRecord(LogLevel::kDebug, line, fields);
  }
}

void LogStreamEnd(const RequestInfo& info, const StreamOutcome& outcome, const nlohmann::json& content) {
  std::string line = Prefix(info) + " " + std::to_string(outcome.status) + " stream ";
  nlohmann::json fields = Fields(info, outcome.status);
  if (outcome.client_gone) {
    line += "ended: " + outcome.gone_reason;
    fields["outcome"] = "client_gone";
    fields["error"] = outcome.gone_reason;
  } else if (!outcome.ok) {
    line += "ended with error in step '" + outcome.error_step + "': " + outcome.error;
    fields["outcome"] = "error";
    fields["error"] = outcome.error;
    fields["error_step"] = outcome.error_step;
  } else {
    line += "done";
    fields["outcome"] = "done";
  }
  line += ", " + std::to_string(outcome.chunks) + " chunks, first chunk " +
          (outcome.first_chunk_ms < 0 ? std::string("none") : Milliseconds(outcome.first_chunk_ms)) + ", total " +
          Milliseconds(outcome.duration_ms);
  fields["chunks"] = outcome.chunks;
  fields["first_chunk_ms"] = outcome.first_chunk_ms < 0 ? nlohmann::json() : nlohmann::json(Round(outcome.first_chunk_ms));
  fields["duration_ms"] = Round(outcome.duration_ms);
  if (outcome.counters.upstream_retries > 0) fields["upstream_retries"] = outcome.counters.upstream_retries;
  if (!outcome.step_tokens.empty()) {  // a model step ran: the run's totals
    line += ", tokens " + std::to_string(outcome.counters.prompt_tokens) + " prompt + " +
            std::to_string(outcome.counters.completion_tokens) + " completion";
    fields["prompt_tokens"] = outcome.counters.prompt_tokens;
    fields["completion_tokens"] = outcome.counters.completion_tokens;
  }
  if (!content.is_null()) {
    fields.update(content);
    line += "; content: " + DumpJson(content);
  }
  LogRecord(outcome.ok ? LogLevel::kInfo : LogLevel::kWarn, line, fields);
}

}  // namespace flowrun
