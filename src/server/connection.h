// The worker's side of a connection under cpp-httplib: the front end
// (connection_loop.h) has read and checked a request's head and body; here
// httplib routes that request from memory and writes the response to the
// client socket. httplib never reads the socket itself, so its own framing
// (and its fixed limits) never decide anything. The socket of the request
// being served is known to this thread, so a stream can notice a client
// that closed its connection while nothing is being written.
// Internal to src/server; one request per call, on the calling thread.
#pragma once

#include <chrono>

#include <httplib.h>

#include "server/connection_loop.h"

namespace flowrun {

class FlowrunHttplibServer : public httplib::Server {
 public:
  explicit FlowrunHttplibServer(std::chrono::milliseconds write_timeout) : write_timeout_(write_timeout) {
    // httplib ends a chunked response early once its listening socket is
    // gone; the front end owns the real one, so mark this one as running.
    svr_sock_ = 0;
  }

  // Serves `request` on `fd`: routes it, writes the whole response. True
  // when the connection may wait for another request.
  bool ServeFramed(int fd, const FramedRequest& request);

 private:
  std::chrono::milliseconds write_timeout_;
};

// The socket of the request being handled on this thread (-1 if none).
int CurrentRequestSocket();

// The stream of that request's connection (null if none).
class ConnectionStream;
ConnectionStream* CurrentConnectionStream();

// Sends what writes from an event loop left buffered on `stream`, as far as
// the socket takes it now; false once the client has taken nothing for the
// write timeout. Never blocks.
bool SendConnectionBuffered(ConnectionStream* stream);

// Bytes writes from an event loop left on `stream` (0 if null).
size_t ConnectionBacklog(const ConnectionStream* stream);

// True when the peer has closed or reset `sock` (never blocks).
bool PeerClosed(int sock);

}  // namespace flowrun
