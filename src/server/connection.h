// The worker's side of a connection under cpp-httplib: the front end
// (connection_loop.h) has read and checked a request's head and body; here
// httplib routes that request from memory and writes the response to the
// client socket. httplib never reads the socket itself, so its own framing
// (and its fixed limits) never decide anything. A streamed response is not
// written here: the handler detaches it (DetachCurrentResponse) and the
// caller hands it, with the connection, to a run loop (loop_stream.h).
// Internal to src/server; one request per call, on the calling thread.
#pragma once

#include <chrono>

#include <httplib.h>

#include "server/connection_loop.h"
#include "server/loop_stream.h"

namespace flowrun {

class FlowrunHttplibServer : public httplib::Server {
 public:
  explicit FlowrunHttplibServer(std::chrono::milliseconds write_timeout) : write_timeout_(write_timeout) {
    // httplib ends a chunked response early once its listening socket is
    // gone; the front end owns the real one, so mark this one as running.
    svr_sock_ = 0;
  }

  // Serves `request` on `fd`: routes it and writes the whole response,
  // unless the handler detached it into `*detached` (then nothing was
  // written). True when the connection may serve another request after this one.
  bool ServeFramed(int fd, const FramedRequest& request, std::optional<DetachedStream>* detached);

 private:
  std::chrono::milliseconds write_timeout_;
};

// From the handler of the request ServeFramed is serving on this thread:
// the response is `stream`, to be served by a run loop; what httplib writes
// for this request is dropped.
void DetachCurrentResponse(DetachedStream stream);

}  // namespace flowrun
