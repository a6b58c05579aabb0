// FlowService: what the server does with a request, without sockets.
// Routes GET /, /healthz, /flows, /flows/<name>/graph, /metrics, each
// flow's POST endpoint and the OpenAI-compatible facade (POST
// /v1/chat/completions, GET /v1/models: openai_endpoint.cpp); validates the
// body before any step runs; streams run events as SSE.
// Thread-safe: Handle may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/status.h"
#include "flow/flow.h"
#include "flow/flow_library.h"
#include "server/http_types.h"
#include "server/access_control.h"
#include "server/json_limits.h"
#include "server/metrics.h"
#include "server/request_log.h"
#include "server/stream_session.h"

namespace flowrun {

struct ServiceOptions {
  size_t max_body_bytes = 1 << 20;
  JsonLimits json_limits;  // request bodies' depth and value count, checked before parsing
  size_t max_streams = 0;  // concurrent streams admitted; 0: no limit
  std::chrono::milliseconds heartbeat{15000};  // ": ping" after this long without a write
  std::vector<std::string> api_keys;      // non-empty: every route but / and /healthz needs one
  std::vector<std::string> cors_origins;  // origins allowed to call from a browser
  bool log_content = false;               // log inputs and replies (off: they may be private)
};

class FlowService {
 public:
  explicit FlowService(ServiceOptions options = {})
      : options_(options), access_(options_.api_keys, options_.cors_origins) {}

  // Replaces the served flows; refuses two flows on one endpoint.
  Status SetFlows(std::vector<std::shared_ptr<const Flow>> flows);

  HttpResponse Handle(const HttpRequest& request) const;

  // A request the front end refused before routing (framing, limits,
  // timeouts, no descriptors): logs it, counts it, and returns the answer.
  // `method` is empty when the request line was unreadable.
  HttpResponse Refuse(const std::string& method, const std::string& target, int status,
                      const std::string& message) const;

  const ServiceOptions& options() const { return options_; }

  // A flow served as a model at /v1; `created` is when that version of the
  // flow was first served.
  struct Model {
    std::shared_ptr<const Flow> flow;
    int64_t created = 0;
  };
  using ModelTable = std::map<std::string, Model>;

  size_t ActiveStreams() const { return active_streams_.load(); }
  // Ends every running stream with an error event carrying `reason`
  // (then done). New requests are still admitted; stop the server first.
  void CancelAllStreams(const std::string& reason);

 private:
  using FlowTable = std::map<std::string, std::shared_ptr<const Flow>>;

  std::shared_ptr<const FlowTable> Flows() const;
  // Sets `info.flow` when the path is a flow's endpoint.
  HttpResponse Route(const HttpRequest& request, RequestInfo& info) const;
  HttpResponse RunFlowRequest(std::shared_ptr<const Flow> flow, const HttpRequest& request,
                              const RequestInfo& info) const;
  HttpResponse ListFlows(const FlowTable& flows) const;
  // The body as JSON after the size, content-type and shape checks (an
  // empty body is {}); else the refusal.
  std::optional<HttpResponse> ReadJsonBody(const HttpRequest& request, nlohmann::json* body) const;

  // The OpenAI facade (openai_endpoint.cpp).
  std::shared_ptr<const ModelTable> Models() const;
  HttpResponse ChatCompletions(const HttpRequest& request, RequestInfo& info) const;
  HttpResponse ListModels(const HttpRequest& request) const;

  // Holds one admission slot; released when the response is destroyed,
  // whether or not its stream ever ran.
  class StreamSlot;
  // Takes a stream slot (and checks for spare descriptors); else the
  // refusal, with `limit_status` at --max-streams and Retry-After.
  std::optional<HttpResponse> Admit(int limit_status, std::shared_ptr<StreamSlot>* slot) const;
  // The streamed response that runs `flow` on its loop once admitted.
  HttpResponse StartStream(std::shared_ptr<StreamSlot> slot, std::shared_ptr<const Flow> flow, nlohmann::json input,
                           StreamSettings settings, const RequestInfo& info) const;

  // A stream being run: its loop and scope, so another thread can cancel it
  // by posting there. `scope` is cleared (on the loop) when the stream ends.
  struct LiveStream {
    EventLoop* loop = nullptr;
    CancelScope* scope = nullptr;
  };
  struct StreamJob;
  static Task<void> RunStream(const FlowService* service, std::shared_ptr<StreamJob> job, StreamRun run);

  ServiceOptions options_;
  AccessControl access_;
  mutable Metrics metrics_;
  mutable std::atomic<size_t> active_streams_{0};
  mutable std::mutex mutex_;
  mutable std::set<std::shared_ptr<LiveStream>> running_;  // guarded by mutex_
  std::shared_ptr<const FlowTable> flows_ = std::make_shared<FlowTable>();
  std::shared_ptr<const FlowLibrary> library_;  // the served flows by name, for `call`; guarded by mutex_
  std::shared_ptr<const ModelTable> models_ = std::make_shared<ModelTable>();  // guarded by mutex_
};

// {"error": message, "field": field} with the given status.
HttpResponse JsonError(int status, const std::string& message, const std::string& field = "");

}  // namespace flowrun
