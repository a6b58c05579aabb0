// The OpenAI chat-completions wire shapes flowrun answers with at
// /v1/chat/completions and /v1/models: error bodies, the chunk stream
// (`data:` lines only, role once, one finish_reason, an optional usage
// chunk, then [DONE]) and the one-shot chat.completion. The encoders turn
// a run's events into those bytes; they never touch a socket, so every
// byte is unit-tested. Pure functions are thread-safe; an encoder belongs
// to one stream (its loop's thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/http_types.h"
#include "server/stream_session.h"

namespace flowrun {

// {"error": {"message", "type", "param", "code"}}; an empty param or code
// is null. The type follows the status: invalid_request_error (4xx but
// 401/403/429), authentication_error (401), permission_error (403),
// rate_limit_error (429), server_error (5xx).
nlohmann::ordered_json OpenAiErrorBody(int status, const std::string& message, const std::string& param = "",
                                       const std::string& code = "");
HttpResponse OpenAiError(int status, const std::string& message, const std::string& param = "",
                         const std::string& code = "");

// Rewrites a native error answer ({"error": "...", "field": "..."}) into
// the OpenAI shape, keeping its status and headers (the field becomes
// param). Any other response is left as it is.
void ToOpenAiError(HttpResponse& response);

// What every chunk (or the completion) of one answer repeats.
struct CompletionHeader {
  std::string id;  // "chatcmpl-<request id>"
  int64_t created = 0;
  std::string model;
};

// The token counts an answer reports (sums over the run's model steps).
nlohmann::ordered_json UsageJson(const RunCounters& counters);

// stream: true. Begin sends the role chunk; each chunk event's text becomes
// one delta.content chunk; an error event becomes
// `data: {"error": {...}}`; Finish sends the finish_reason chunk (stop, or
// length when a model step stopped on its token limit), the usage chunk
// when asked for, then `data: [DONE]` (after an error only [DONE]).
class OpenAiChunkEncoder : public StreamEncoder {
 public:
  OpenAiChunkEncoder(CompletionHeader header, bool include_usage);

  void Begin(std::string& out) override;
  void Chunk(std::string_view text, std::string& out) override;
  void Error(const Event& event, std::string& out) override;
  End Finish(const RunResult& result, std::string& out) override;
  std::string Heartbeat() const override { return ": ping\n\n"; }

 private:
  void AppendChunk(std::string_view delta_json, std::string_view finish_reason, std::string& out) const;

  CompletionHeader header_;
  bool include_usage_;
  std::string prefix_;  // `data: {"id":...,"choices":[{"index":0,"delta":`
  bool failed_ = false;
};

// stream: false. Keeps the streamed text; Finish writes one chat.completion
// (200), or, when the run failed, an OpenAI error body with 502 (a model
// call failed) or 500. The head waits for it; no heartbeats.
class OpenAiCompletionEncoder : public StreamEncoder {
 public:
  explicit OpenAiCompletionEncoder(CompletionHeader header) : header_(std::move(header)) {}

  void Begin(std::string&) override {}
  void Chunk(std::string_view text, std::string&) override { content_.append(text); }
  void Error(const Event& event, std::string&) override;
  End Finish(const RunResult& result, std::string& out) override;
  std::string Heartbeat() const override { return ""; }

 private:
  CompletionHeader header_;
  std::string content_;
  std::string error_;
};

// The message of a mid-answer error: the run's error, naming its step.
std::string OpenAiRunErrorMessage(const std::string& error, const std::string& step);

}  // namespace flowrun
