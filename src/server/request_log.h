// One log line per request: id, method, path, flow, status; for streams
// also how they ended, time to first chunk, duration, chunk count and,
// when a model step ran, the run's prompt and completion tokens.
// Prompts and replies only when content logging is on. Never headers.
// Thread-safe: any worker may log; request ids come from an atomic counter.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/http_types.h"
#include "server/stream_session.h"

namespace flowrun {

struct RequestInfo {
  std::string id;
  std::string method;
  std::string path;
  std::string flow;  // empty when the path is not a flow's
};

// The client's X-Request-Id when it is sane (≤ 64 of [A-Za-z0-9._-]), else a new one.
std::string RequestIdFor(const HttpRequest& request);

void LogResponse(const RequestInfo& info, const HttpResponse& response);
// `content` (input and reply) is logged only when not null.
void LogStreamEnd(const RequestInfo& info, const StreamOutcome& outcome, const nlohmann::json& content);

}  // namespace flowrun
