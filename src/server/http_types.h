// Plain request/response types between the HTTP adapter (http_server.cpp,
// connection.*, worker_pool.*: the only httplib users) and the socket-free
// request handling, so handler logic is testable without a network. Plain
// values; a StreamWriter is used by one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/flow_control.h"
#include "core/task.h"

namespace flowrun {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto found = headers.find(lower_name);
    return found == headers.end() ? "" : found->second;
  }
};

// Where a streaming response writes, on the loop that owns the connection:
// writes never block. Write returns false once the client is gone; the
// stream should then stop promptly.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool Write(std::string_view bytes) = 0;
  // False once the client has closed its connection, checked without
  // writing (used while waiting for a model's first token). Never blocks.
  virtual bool ClientConnected() { return true; }
  // Sends what earlier writes had to leave buffered (writes made on an
  // event loop never wait for a slow client). False once the client is
  // gone. Never blocks.
  virtual bool Flush() { return true; }
  // Earlier writes left bytes the client has not taken yet.
  virtual bool Backlogged() const { return false; }
  // The client's socket, so an event loop can watch it for a hang-up
  // (-1: none).
  virtual int ClientSocket() const { return -1; }
  // Why writing stopped working, for logs.
  virtual std::string GoneReason() const { return "client disconnected"; }
};

// What a streamed body is produced with: the loop the connection is owned
// by, its writer, the stream's cancel scope (cancelled when the client goes
// or the server shuts down) and the writer's backlog. All of it belongs to
// that loop's thread and outlives the task.
struct StreamRun {
  EventLoop& loop;
  StreamWriter& writer;
  CancelScope& scope;
  FlowControl& flow;
  // Set when the response's head waits for its body (HttpResponse::
  // head_waits): writes the head with this status and content type; call it
  // once, before the first Write.
  std::function<void(int status, const std::string& content_type)> start_response = nullptr;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body is an event stream produced by this task on a run
  // loop, which then owns the connection (the response head is already out).
  std::function<Task<void>(StreamRun run)> stream;
  // The stream's task decides the status and content type itself, once its
  // run is over (StreamRun::start_response): a buffered answer that may end
  // in an error status.
  bool head_waits = false;
};

}  // namespace flowrun
