// HttpServer: serves a FlowService over HTTP/1.1. The only code that knows
// cpp-httplib lives in src/server (http_server.cpp, connection.*, worker_pool.*).
// Start() binds (port 0 picks a free port) and serves on a background
// thread; Shutdown() drains and stops. Start/Shutdown from one thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/flow_service.h"
#include "server/request_head.h"

namespace flowrun {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 3000;   // 0: any free port
  // Most worker threads: they read, check and admit requests; streams run on
  // the run loops and hold none.
  int threads = 8;
  std::chrono::milliseconds write_timeout{5000};  // a client that stops reading is dropped after this
  std::chrono::milliseconds idle_keep_alive{5000};
  std::chrono::milliseconds idle_worker_exit{10000};  // the pool shrinks after this
  std::chrono::milliseconds header_timeout{10000};    // a whole request head
  std::chrono::milliseconds body_timeout{30000};      // a whole request body
  HeadLimits head_limits;
  size_t max_body_memory = 64u << 20;  // request bodies held at once, all connections together
};

class HttpServer {
 public:
  HttpServer(std::shared_ptr<FlowService> service, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving in the background; then port() is the bound port.
  Status Start();
  int port() const { return port_; }

  // Stops accepting, lets running streams finish for up to `drain`, ends the
  // rest with an error event (then done), and returns when all are closed.
  void Shutdown(std::chrono::milliseconds drain);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  bool started_ = false;
};

}  // namespace flowrun
