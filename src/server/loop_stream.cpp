// One loop-owned streamed response (loop_stream.h).
#include "server/loop_stream.h"

#include <exception>
#include <optional>

#include "core/flow_control.h"
#include "core/log.h"

namespace flowrun {
namespace {

struct LoopStream {
  LoopStream(EventLoop& event_loop, std::unique_ptr<ClientConnection> client, DetachedStream detached,
             bool keep, LoopSocketWriter::Limits limits, ConnectionDone on_done)
      : loop(event_loop),
        connection(std::move(client)),
        stream(std::move(detached)),
        keep_alive(keep),
        done(std::move(on_done)) {
    writer.emplace(loop, connection->fd(), limits, flow, scope);
  }

  EventLoop& loop;
  std::unique_ptr<ClientConnection> connection;
  DetachedStream stream;
  bool keep_alive;
  ConnectionDone done;
  FlowControl flow;
  CancelScope scope;
  std::optional<LoopSocketWriter> writer;
};

Task<void> Serve(LoopStream& s) {
  bool head_sent = false;
  auto send_head = [&s, &head_sent](int status, const std::string& content_type) {
    if (head_sent) return;
    head_sent = true;
    s.stream.status = status;
    if (!content_type.empty()) s.stream.content_type = content_type;
    s.writer->WriteRaw(StreamResponseHead(s.stream, s.keep_alive));
  };
  StreamRun run{s.loop, *s.writer, s.scope, s.flow};
  if (s.stream.head_waits) {
    run.start_response = send_head;
  } else {
    send_head(s.stream.status, s.stream.content_type);
  }
  // Run even when the client is already gone: the run ends at once and the
  // stream is logged and counted like any other.
  co_await s.stream.body(run);
  if (!head_sent) {  // a body that never started its response
    s.keep_alive = false;
    send_head(500, "");
  }
  const bool ended = s.writer->WriteRaw("0\r\n\r\n");
  bool delivered = false;
  if (ended) delivered = co_await s.writer->Drained();
  s.keep_alive = s.keep_alive && delivered;
}

}  // namespace

std::string StreamResponseHead(const DetachedStream& stream, bool keep_alive) {
  const char* reason = stream.status == 200   ? " OK"
                       : stream.status == 500 ? " Internal Server Error"
                       : stream.status == 502 ? " Bad Gateway"
                                              : " Stream";
  std::string head = "HTTP/1.1 " + std::to_string(stream.status) + reason + "\r\nContent-Type: " +
                     stream.content_type + "\r\n";
  for (const auto& [name, value] : stream.headers) head += name + ": " + value + "\r\n";
  head += "Transfer-Encoding: chunked\r\n";
  head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

void StartLoopStream(EventLoop& loop, std::unique_ptr<ClientConnection> connection, DetachedStream stream,
                     bool keep_alive, LoopSocketWriter::Limits limits, ConnectionDone done) {
  auto* session = new LoopStream(loop, std::move(connection), std::move(stream), keep_alive, limits, std::move(done));
  StartTask(Serve(*session), [session](std::exception_ptr error) {
    if (error) {
      LogError("internal error while streaming a response; closing the connection");
      session->keep_alive = false;
    }
    // Off the socket before the connection goes back to the front end.
    session->writer.reset();
    ConnectionDone finish = std::move(session->done);
    std::unique_ptr<ClientConnection> client = std::move(session->connection);
    const bool keep = session->keep_alive;
    delete session;
    finish(std::move(client), keep);
  });
}

}  // namespace flowrun
