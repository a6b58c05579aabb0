// FlowService: what the server does with a request, without sockets.
// Routes GET /, /healthz, /flows and each flow's POST endpoint; validates
// the body before any step runs; streams run events as SSE.
// Thread-safe: Handle may be called from many threads at once.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "flow/flow.h"
#include "server/http_types.h"

namespace flowrun {

struct ServiceOptions {
  size_t max_body_bytes = 1 << 20;
};

class FlowService {
 public:
  explicit FlowService(ServiceOptions options = {}) : options_(options) {}

  // Replaces the served flows; refuses two flows on one endpoint.
  Status SetFlows(std::vector<std::shared_ptr<const Flow>> flows);

  HttpResponse Handle(const HttpRequest& request) const;

  const ServiceOptions& options() const { return options_; }

 private:
  using FlowTable = std::map<std::string, std::shared_ptr<const Flow>>;

  std::shared_ptr<const FlowTable> Flows() const;
  HttpResponse RunFlowRequest(std::shared_ptr<const Flow> flow, const HttpRequest& request) const;
  HttpResponse ListFlows(const FlowTable& flows) const;

  ServiceOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<const FlowTable> flows_ = std::make_shared<FlowTable>();
};

// {"error": message, "field": field} with the given status.
HttpResponse JsonError(int status, const std::string& message, const std::string& field = "");

}  // namespace flowrun
