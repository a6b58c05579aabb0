// A streamed response carried by a run loop: the worker has routed the
// request and admitted the stream; from here the loop owns the connection.
// It writes the response head, runs the stream's task with a
// LoopSocketWriter, ends the chunked body, waits until the client has it
// all (or is gone), and hands the connection back for its next request.
// Internal to src/server.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/event_loop.h"
#include "server/connection_loop.h"
#include "server/http_types.h"
#include "server/loop_socket_writer.h"

namespace flowrun {

struct DetachedStream {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::function<Task<void>(StreamRun run)> body;
  std::string content_type = "text/event-stream";
  bool head_waits = false;  // the body starts the response (StreamRun::start_response)
};

// The head of a chunked response (text/event-stream unless the stream says otherwise).
std::string StreamResponseHead(const DetachedStream& stream, bool keep_alive);

using ConnectionDone = std::function<void(std::unique_ptr<ClientConnection> connection, bool keep_alive)>;

// On `loop`'s thread: serves `stream` on `connection`, then calls `done`
// there (keep_alive false when the client went or asked to close).
void StartLoopStream(EventLoop& loop, std::unique_ptr<ClientConnection> connection, DetachedStream stream,
                     bool keep_alive, LoopSocketWriter::Limits limits, ConnectionDone done);

}  // namespace flowrun
