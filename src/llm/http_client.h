// HttpClient: one plain HTTP request (the `http` step) on a run's event
// loop, over the same curl driver as the model calls: the run's coroutine
// waits without a thread, cancelling its scope aborts the transfer at once,
// and a bounded response is collected whole. This header shows no curl
// type. The client is thread-safe: each Send runs its own transfer on the
// loop it is given.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/status.h"
#include "core/task.h"

namespace flowrun {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpCall {
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE, HEAD
  std::string url;             // http:// or https:// only; redirects are not followed
  HttpHeaders headers;         // sent as given (no CR, LF or NUL: the caller checks)
  std::string body;            // sent when not empty
  long connect_timeout_ms = 10000;
  long timeout_ms = 30000;  // the whole exchange (0: no limit of its own)
  std::size_t max_response_bytes = std::size_t{1} << 20;
};

struct HttpAnswer {
  long status = 0;
  HttpHeaders headers;  // the final response's, names in lower case, in order
  std::string body;
};

// Why a call got no answer (Send's error), for callers that count or retry.
enum class HttpFault { kNone, kCancelled, kUnreachable, kTimeout, kTooLarge, kOutOfDescriptors, kOther };

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Ok once a whole response arrived, whatever its status; otherwise an
  // error naming the cause ("no response within 30000 ms", "the response is
  // larger than max_response_bytes (1048576)", "cannot reach
  // api.example.com: ...") and `*fault` (when not null) says which. Must run
  // on `loop`'s thread; `call` must outlive the task.
  virtual Task<Status> Send(const HttpCall& call, HttpAnswer* answer, EventLoop& loop, CancelScope& scope,
                            HttpFault* fault) = 0;
};

// The curl client (one for the process; thread-safe).
std::shared_ptr<HttpClient> CurlHttpClient();

}  // namespace flowrun
