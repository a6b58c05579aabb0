// cpp-httplib adapter: converts requests, writes SSE streams through a
// chunked content provider, and keeps the socket options explicit.
#include "server/http_server.h"

#include <chrono>
#include <thread>

#include <httplib.h>

#include "core/log.h"
#include "server/connection.h"

namespace flowrun {
namespace {

HttpRequest Convert(const httplib::Request& in) {
  HttpRequest out;
  out.method = in.method;
  out.path = in.path;
  for (const auto& [key, value] : in.params) out.query.emplace(key, value);
  for (const auto& [name, value] : in.headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace(std::move(lower), value);
  }
  out.body = in.body;
  return out;
}

class SinkWriter : public StreamWriter {
 public:
  explicit SinkWriter(httplib::DataSink& sink) : sink_(sink), socket_(CurrentRequestSocket()) {}
  bool Write(std::string_view bytes) override {
    if (!ok_) return false;
    ok_ = sink_.write(bytes.data(), bytes.size());
    return ok_;
  }
  bool ClientConnected() override {
    ok_ = ok_ && (socket_ < 0 || !PeerClosed(socket_));
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
  httplib::DataSink& sink_;
  int socket_;
  bool ok_ = true;
};

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<FlowService> service;
  ServerOptions options;
  FlowrunHttplibServer server{ConnectionLimits{}};
  std::thread thread;

  void Serve(const httplib::Request& request, httplib::Response& response) {
    const auto started = std::chrono::steady_clock::now();
    HttpResponse result = service->Handle(Convert(request));
    response.status = result.status;
    for (const auto& [name, value] : result.headers) response.set_header(name, value);
    if (result.stream) {
      // Exactly "text/event-stream": httplib compresses other text types,
      // which would hold the stream back until the end.
      response.set_chunked_content_provider(
          "text/event-stream", [stream = std::move(result.stream)](size_t, httplib::DataSink& sink) {
            SinkWriter writer(sink);
            stream(writer);
            if (writer.ok()) sink.done();
            return writer.ok();
          });
    } else {
      response.set_content(result.body, result.content_type);
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    LogDebug(request.method + " " + request.path + " " + std::to_string(result.status) + " " +
             std::to_string(ms) + " ms");
  }
};

HttpServer::HttpServer(std::shared_ptr<FlowService> service, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->options = std::move(options);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  auto& server = impl_->server;
  const int threads = std::max(1, impl_->options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_tcp_nodelay(true);
  // httplib's default sets SO_REUSEPORT, which lets a second server bind a
  // busy port silently; REUSEADDR alone reports "address in use".
  server.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_payload_max_length(impl_->service->options().max_body_bytes);
  auto handler = [this](const httplib::Request& request, httplib::Response& response) {
    impl_->Serve(request, response);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.Options(".*", handler);
  server.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr) {
    response.status = 500;
    response.set_content(R"({"error":"internal error"})", "application/json");
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
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Wait() {
  if (impl_->thread.joinable()) impl_->thread.join();
}

void HttpServer::Stop() {
  if (!impl_) return;
  impl_->server.stop();
  Wait();
}

}  // namespace flowrun
