// HttpServer: serves a FlowService over HTTP/1.1. The only file that knows
// cpp-httplib. Start() binds (port 0 picks a free port) and serves on a
// background thread; Stop() ends it. Start/Stop from one thread.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "server/flow_service.h"

namespace flowrun {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 3000;  // 0: any free port
  int threads = 64;  // worker pool size: one stream holds one worker
};

class HttpServer {
 public:
  HttpServer(std::shared_ptr<FlowService> service, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving in the background; sets the bound port.
  Status Start();
  int port() const { return port_; }
  // Blocks until the server stops (after Stop() from another thread or a signal).
  void Wait();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace flowrun
