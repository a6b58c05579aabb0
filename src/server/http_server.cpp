// The HTTP server: our own listening socket and front end (connection_loop.h)
// read and check requests; workers route them through cpp-httplib, convert
// them for FlowService and write plain responses; a stream goes, with its
// connection, to a run loop (loop_stream.h), so no worker waits for it.
// Every connection is handed back to the front end; Shutdown drains.
#include "server/http_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <thread>

#include <httplib.h>

#include "core/log.h"
#include "core/loop_threads.h"
#include "server/connection.h"
#include "server/worker_pool.h"

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

void SetError(httplib::Response& response, const HttpResponse& error) {
  response.status = error.status;
  response.set_content(error.body, error.content_type);
}

// Creates a non-blocking listening socket on host:port (0: any free port).
int Listen(const std::string& host, int port, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int code = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); code != 0) {
    *error = gai_strerror(code);
    return -1;
  }
  int sock = -1;
  for (addrinfo* candidate = found; candidate != nullptr && sock < 0; candidate = candidate->ai_next) {
    sock = socket(candidate->ai_family, candidate->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, candidate->ai_protocol);
    if (sock < 0) continue;
    // REUSEADDR alone: a second server on a busy port gets "address in use"
    // (httplib's default SO_REUSEPORT would let it bind silently).
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(sock, candidate->ai_addr, candidate->ai_addrlen) != 0 || listen(sock, SOMAXCONN) != 0) {
      *error = strerror(errno);
      close(sock);
      sock = -1;
    }
  }
  freeaddrinfo(found);
  return sock;
}

int BoundPort(int sock) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -1;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port);
  return -1;
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<FlowService> service;
  ServerOptions options;
  std::unique_ptr<FlowrunHttplibServer> server;
  std::unique_ptr<WorkerPool> pool;
  std::unique_ptr<ConnectionLoop> front;

  // A request and its connection, handed from the front end to a worker.
  struct Job {
    std::unique_ptr<ClientConnection> connection;
    FramedRequest request;
  };

  void OnRequest(std::unique_ptr<ClientConnection> connection, FramedRequest request) {
    auto job = std::make_shared<Job>(Job{std::move(connection), std::move(request)});
    pool->enqueue([this, job] {
      std::optional<DetachedStream> stream;
      const bool keep_alive = server->ServeFramed(job->connection->fd(), job->request, &stream);
      job->request = FramedRequest();  // the body's memory goes back to the budget now
      if (!stream) {
        front->Return(std::move(job->connection), keep_alive);
        return;
      }
      StartStream(std::move(job->connection), std::move(*stream), keep_alive);
    });
  }

  // The run loop takes the connection from here; the worker is free.
  void StartStream(std::unique_ptr<ClientConnection> connection, DetachedStream stream, bool keep_alive) {
    EventLoop* loop = LoopThreads::Shared().Next();
    if (loop == nullptr) {  // the loops run before the server listens; this cannot happen
      front->Return(std::move(connection), false);
      return;
    }
    struct Handoff {
      std::unique_ptr<ClientConnection> connection;
      DetachedStream stream;
    };
    auto handoff = std::make_shared<Handoff>(Handoff{std::move(connection), std::move(stream)});
    LoopSocketWriter::Limits limits;
    limits.write_timeout = options.write_timeout;
    loop->Post([this, loop, handoff, keep_alive, limits] {
      StartLoopStream(*loop, std::move(handoff->connection), std::move(handoff->stream), keep_alive, limits,
                      [this](std::unique_ptr<ClientConnection> done, bool keep) {
                        front->Return(std::move(done), keep);
                      });
    });
  }

  RefusalAnswer OnRefusal(const RefusedRequest& refused) {
    HttpResponse response = service->Refuse(refused.method, refused.target, refused.refusal.status,
                                            refused.refusal.message);
    return RefusalAnswer{response.body, response.headers};
  }

  void Serve(const httplib::Request& request, httplib::Response& response, std::string body) {
    HttpResponse result = service->Handle(Convert(request, std::move(body)));
    response.status = result.status;
    for (const auto& [name, value] : result.headers) response.set_header(name, value);
    if (!result.stream) {
      // No type (a 204 preflight): no empty Content-Type header either.
      if (result.content_type.empty()) {
        response.body = result.body;
      } else {
        response.set_content(result.body, result.content_type);
      }
      return;
    }
    DetachCurrentResponse(DetachedStream{result.status, std::move(result.headers), std::move(result.stream),
                                         result.content_type, result.head_waits});
  }

  // The front end has read the whole body already, and bounded it by
  // --max-body (also for chunked uploads); this reads it from memory.
  void ServeWithBody(const httplib::Request& request, httplib::Response& response,
                     const httplib::ContentReader& reader) {
    std::string body;
    reader([&](const char* data, size_t length) {
      body.append(data, length);
      return true;
    });
    Serve(request, response, std::move(body));
  }

  void Route() {
    auto handler = [this](const httplib::Request& request, httplib::Response& response) {
      Serve(request, response, request.body);
    };
    auto with_body = [this](const httplib::Request& request, httplib::Response& response,
                            const httplib::ContentReader& reader) { ServeWithBody(request, response, reader); };
    server->Get(".*", handler);
    server->Options(".*", handler);
    server->Post(".*", with_body);
    server->Put(".*", with_body);
    server->Patch(".*", with_body);
    server->Delete(".*", handler);
    server->set_payload_max_length(std::numeric_limits<size_t>::max());
    // Only for the Keep-Alive header httplib writes; the front end decides.
    server->set_keep_alive_max_count(1000);
    server->set_keep_alive_timeout(std::max<time_t>(1, options.idle_keep_alive.count() / 1000));
    server->set_exception_handler([](const httplib::Request& request, httplib::Response& response,
                                     std::exception_ptr) {
      LogRecord(LogLevel::kError, "internal error while serving " + request.method + " " + request.path,
                {{"method", request.method}, {"path", request.path}});
      SetError(response, JsonError(500, "internal error"));
    });
  }
};

HttpServer::HttpServer(std::shared_ptr<FlowService> service, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->options = std::move(options);
  impl_->server = std::make_unique<FlowrunHttplibServer>(impl_->options.write_timeout);
}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  const auto& options = impl_->options;
  std::string error;
  // Streams run on the run loops: they must be there before anything is admitted.
  if (Status loops = LoopThreads::Shared().Start(); !loops.ok()) return loops;
  const int sock = Listen(options.host, options.port, &error);
  if (sock < 0) {
    return Status::Unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port) + " (" + error + ")");
  }
  port_ = BoundPort(sock);
  impl_->Route();
  WorkerPoolOptions pool;
  pool.max_threads = static_cast<size_t>(std::max(1, options.threads));
  pool.min_threads = std::min(pool.min_threads, pool.max_threads);
  pool.idle_exit = options.idle_worker_exit;
  impl_->pool = std::make_unique<WorkerPool>(pool);
  FrontEndOptions front;
  front.head = options.head_limits;
  front.max_body_bytes = impl_->service->options().max_body_bytes;
  front.max_body_memory = options.max_body_memory;
  front.header_timeout = options.header_timeout;
  front.body_timeout = options.body_timeout;
  front.idle_keep_alive = options.idle_keep_alive;
  impl_->front = std::make_unique<ConnectionLoop>(
      front,
      [impl = impl_.get()](std::unique_ptr<ClientConnection> connection, FramedRequest request) {
        impl->OnRequest(std::move(connection), std::move(request));
      },
      [impl = impl_.get()](const RefusedRequest& refused) { return impl->OnRefusal(refused); });
  if (Status status = impl_->front->Start(sock); !status.ok()) return status;
  started_ = true;
  return Status::Ok();
}

void HttpServer::Shutdown(std::chrono::milliseconds drain) {
  if (!started_) return;
  started_ = false;
  auto& front = *impl_->front;
  front.BeginStop();  // no new connections; those not inside a request close now
  auto wait_until = [](std::chrono::steady_clock::time_point deadline, const std::function<bool()>& done) {
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  };
  const auto deadline = std::chrono::steady_clock::now() + drain;
  if (!wait_until(deadline, [&] { return impl_->service->ActiveStreams() == 0 && front.in_requests() == 0; })) {
    if (impl_->service->ActiveStreams() > 0) {
      LogWarn(std::to_string(impl_->service->ActiveStreams()) +
              " stream(s) still running after the drain timeout; ending them");
      impl_->service->CancelAllStreams("the server is shutting down");
    }
    // Cancelled streams end with their final events at once; a client that
    // reads nothing is dropped after the write timeout.
    const auto grace = std::chrono::steady_clock::now() + impl_->options.write_timeout + std::chrono::seconds(2);
    if (!wait_until(grace, [&] { return front.in_requests() == 0; })) {
      LogWarn(std::to_string(front.in_requests()) + " request(s) still being answered; stopping anyway");
    }
  }
  // Workers still answering hand their connections back to a running loop.
  impl_->pool->shutdown();
  front.Stop();
}

}  // namespace flowrun
