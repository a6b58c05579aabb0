// HttpRequester: one compiled HTTP request of a flow (an `http` step's, or
// an llm-stream tool's `http:`): its url, method, headers, query and json
// body as templates over a state, its limits and accepted statuses. Built
// once when the flow loads, shared read-only by concurrent runs; Send runs
// on the caller's loop and is aborted by its scope.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/status.h"
#include "core/task.h"
#include "steps/step_registry.h"

namespace flowrun {

class HttpRequester {
 public:
  virtual ~HttpRequester() = default;

  // From the http step's parameters (HttpStepType) in `config`; nullptr
  // with `error` set when they do not make a request.
  static std::shared_ptr<const HttpRequester> Make(const StepConfig& config, const StepEnvironment& environment,
                                                   Status* error);

  // Renders the request against `state` and sends it. `*output` becomes
  // {status, headers, body} whenever a response arrived; a status outside
  // 2xx and accept_status is then an error naming it. Messages never hold
  // the secrets of its headers.
  virtual Task<Status> Send(const nlohmann::json& state, EventLoop& loop, CancelScope& scope,
                            nlohmann::json* output) const = 0;
  // "GET https://api.example.com/orders/{{ args.id }}".
  virtual std::string Describe() const = 0;
  // The http step's `output` key.
  virtual const std::string& output_key() const = 0;
};

}  // namespace flowrun
