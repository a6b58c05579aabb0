// Per-connection handling under cpp-httplib: flowrun runs each accepted
// socket's keep-alive loop itself (httplib parses and routes each request)
// so that it knows the socket a request came on. That lets a stream notice
// a client that closed its connection while nothing is being written, and
// bounds how long an idle keep-alive connection may hold a worker.
// Internal to src/server.
#pragma once

#include <atomic>
#include <chrono>

#include <httplib.h>

namespace flowrun {

struct ConnectionLimits {
  std::chrono::milliseconds idle_keep_alive{5000};  // wait for a next request
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  int max_requests_per_connection = 1000;
};

class WorkerPool;

class FlowrunHttplibServer : public httplib::Server {
 public:
  explicit FlowrunHttplibServer(ConnectionLimits limits) : limits_(limits) {}

  // Uses a WorkerPool growing up to `max_threads` workers (instead of httplib's own).
  void UseWorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit);
  // After this, connections finish their current request and close.
  void BeginStop() { stopping_.store(true); }
  // httplib listens with a backlog of 5, so bursts of new connections are
  // dropped and retried by the kernel only after a second; raise it.
  void RaiseListenBacklog();

 private:
  // httplib calls this on a worker thread for every accepted socket.
  bool process_and_close_socket(socket_t sock) override;
  // Waits for the next request on a kept-alive connection; false when the
  // connection should close instead (idle too long, stopping, or other
  // connections are waiting for this worker).
  bool WaitForNextRequest(int sock, std::chrono::milliseconds limit, bool may_yield) const;

  ConnectionLimits limits_;
  std::atomic<bool> stopping_{false};
  std::atomic<WorkerPool*> pool_{nullptr};
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
