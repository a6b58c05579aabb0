// cpp-httplib adapter: converts requests, bounds request bodies, writes SSE
// streams through a chunked content provider, and drains on shutdown.
#include "server/http_server.h"

#include <sys/socket.h>

#include <thread>

#include <httplib.h>

#include "core/log.h"
#include "server/connection.h"

namespace flowrun {
namespace {

HttpRequest Convert(const httplib::Request& in, std::string body) {
  HttpRequest out;
  out.method = in.method;
  out.path = in.path;
  for (const auto& [key, value] : in.params) out.query.emplace(key, value);
  for (const auto& [name, value] : in.headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace(std::move(lower), value);
  }
  out.body = std::move(body);
  return out;
}

class SinkWriter : public StreamWriter {
 public:
  explicit SinkWriter(httplib::DataSink& sink)
      : sink_(sink), socket_(CurrentRequestSocket()), stream_(CurrentConnectionStream()) {}
  bool Write(std::string_view bytes) override {
    if (!ok_) return false;
    ok_ = sink_.write(bytes.data(), bytes.size());
    return ok_;
  }
  bool Flush() override {
    if (ok_) ok_ = SendConnectionBuffered(stream_);
    return ok_;
  }
  int ClientSocket() const override { return socket_; }
  bool Backlogged() const override { return ConnectionBacklog(stream_) > 0; }
  // Polled often while a model is quiet; one poll() per 10 ms is plenty.
  bool ClientConnected() override {
    if (!ok_ || socket_ < 0) return ok_;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < std::chrono::milliseconds(10)) return true;
    last_check_ = now;
    ok_ = !PeerClosed(socket_);
    return ok_;
  }
  std::string GoneReason() const override {
    return socket_ >= 0 && !PeerClosed(socket_) ? "client stopped reading (write timed out)" : "client disconnected";
  }
  bool ok() const { return ok_; }

 private:
  httplib::DataSink& sink_;
  int socket_;
  ConnectionStream* stream_;
  bool ok_ = true;
  std::chrono::steady_clock::time_point last_check_;
};

void SetError(httplib::Response& response, const HttpResponse& error) {
  response.status = error.status;
  response.set_content(error.body, error.content_type);
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<FlowService> service;
  ServerOptions options;
  std::unique_ptr<FlowrunHttplibServer> server;
  std::thread thread;

  void Serve(const httplib::Request& request, httplib::Response& response, std::string body) {
    HttpResponse result = service->Handle(Convert(request, std::move(body)));
    response.status = result.status;
    for (const auto& [name, value] : result.headers) response.set_header(name, value);
    if (!result.stream) {
      response.set_content(result.body, result.content_type);
      return;
    }
    // Exactly "text/event-stream": httplib compresses other text types,
    // which would hold the stream back until the end.
    response.set_chunked_content_provider(
        "text/event-stream", [stream = std::move(result.stream)](size_t, httplib::DataSink& sink) {
          SinkWriter writer(sink);
          stream(writer);
          if (writer.ok()) sink.done();
          return writer.ok();
        });
  }

  // Reads the body ourselves so the size limit also holds for chunked
  // uploads (httplib 0.11.4 checks only Content-Length: CVE-2025-46728).
  void ServeWithBody(const httplib::Request& request, httplib::Response& response,
                     const httplib::ContentReader& reader) {
    const size_t limit = service->options().max_body_bytes;
    std::string body;
    bool too_large = false;
    reader([&](const char* data, size_t length) {
      if (body.size() + length > limit) {
        too_large = true;
        return false;
      }
      body.append(data, length);
      return true;
    });
    if (too_large) {
      SetError(response, JsonError(413, "request body is over the limit of " + std::to_string(limit) + " bytes"));
      response.set_header("Connection", "close");
      return;
    }
    Serve(request, response, std::move(body));
  }
};

HttpServer::HttpServer(std::shared_ptr<FlowService> service, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->options = std::move(options);
  ConnectionLimits limits;
  limits.read_timeout = impl_->options.read_timeout;
  limits.write_timeout = impl_->options.write_timeout;
  limits.idle_keep_alive = impl_->options.idle_keep_alive;
  impl_->server = std::make_unique<FlowrunHttplibServer>(limits);
}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  auto& server = *impl_->server;
  server.UseWorkerPool(static_cast<size_t>(std::max(1, impl_->options.threads)), impl_->options.idle_worker_exit);
  server.set_tcp_nodelay(true);
  // httplib's default sets SO_REUSEPORT, which lets a second server bind a
  // busy port silently; REUSEADDR alone reports "address in use".
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const size_t limit = impl_->service->options().max_body_bytes;
  // A declared length over the limit is refused before the body is read.
  server.set_pre_routing_handler([limit](const httplib::Request& request, httplib::Response& response) {
    const std::string declared = request.get_header_value("Content-Length");
    if (declared.empty() || declared.find_first_not_of("0123456789") != std::string::npos ||
        declared.size() > 18 || std::stoull(declared) <= limit) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    SetError(response, JsonError(413, "request body is " + declared + " bytes; the limit is " + std::to_string(limit)));
    response.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_payload_max_length(std::numeric_limits<size_t>::max());
  auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    impl_->Serve(request, response, request.body);
  };
  auto with_body = [this](const httplib::Request& request, httplib::Response& response,
                          const httplib::ContentReader& reader) { impl_->ServeWithBody(request, response, reader); };
  server.Get(".*", handler);
  server.Options(".*", handler);
  server.Post(".*", with_body);
  server.Put(".*", with_body);
  server.Patch(".*", with_body);
  server.Delete(".*", handler);
  server.set_exception_handler([](const httplib::Request& request, httplib::Response& response, std::exception_ptr) {
    LogError("internal error while serving " + request.method + " " + request.path);
    SetError(response, JsonError(500, "internal error"));
  });
  const auto& host = impl_->options.host;
  if (impl_->options.port == 0) {
    port_ = server.bind_to_any_port(host);
  } else {
    port_ = server.bind_to_port(host, impl_->options.port) ? impl_->options.port : -1;
  }
  if (port_ <= 0) {
    return Status::Error("cannot listen on " + host + ":" + std::to_string(impl_->options.port) +
                         " (address in use or not available)");
  }
  server.RaiseListenBacklog();
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Shutdown(std::chrono::milliseconds drain) {
  if (!impl_->thread.joinable()) return;
  impl_->server->BeginStop();
  impl_->server->stop();  // closes the listening socket; workers keep going
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (impl_->service->ActiveStreams() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (impl_->service->ActiveStreams() > 0) {
    LogWarn(std::to_string(impl_->service->ActiveStreams()) +
            " stream(s) still running after the drain timeout; ending them");
    impl_->service->CancelAllStreams("the server is shutting down");
  }
  impl_->thread.join();  // returns once every worker has finished
}

}  // namespace flowrun
