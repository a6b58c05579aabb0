// The front end's event loop: accept, read heads and bodies, refuse, hand over.
#include "server/connection_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/log.h"

namespace flowrun {
namespace {

constexpr size_t kReadBytes = 16 * 1024;
constexpr size_t kMaxReadPerEvent = 64 * 1024;  // then other connections get their turn
constexpr int kMaxAcceptsPerEvent = 64;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string ResponseBytes(int status, const RefusalAnswer& answer) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
  out += "Content-Type: application/json\r\nContent-Length: " + std::to_string(answer.body.size()) + "\r\n";
  for (const auto& [name, value] : answer.headers) out += name + ": " + value + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += answer.body;
  return out;
}

std::string PeerText(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(address).sin_addr, text, sizeof(text));
  } else if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, text, sizeof(text));
  }
  return text;
}

std::string SecondsText(std::chrono::milliseconds duration) {
  const long long ms = duration.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace

bool BodyBudget::Reserve(size_t bytes) {
  size_t used = used_.load();
  do {
    if (used + bytes > limit_) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes));
  return true;
}

ClientConnection::~ClientConnection() {
  if (fd_ >= 0) close(fd_);
}

ConnectionLoop::ConnectionLoop(FrontEndOptions options, RequestHandler on_request, RefusalHandler on_refusal)
    : options_(options),
      on_request_(std::move(on_request)),
      on_refusal_(std::move(on_refusal)),
      budget_(options.max_body_memory) {}

ConnectionLoop::~ConnectionLoop() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (reserve_fd_ >= 0) close(reserve_fd_);
}

Status ConnectionLoop::Start(int listen_fd) {
  listen_fd_ = listen_fd;
  if (Status status = loop_.Init(); !status.ok()) return status;
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!loop_.Watch(listen_fd_, EPOLLIN, [this](uint32_t) { OnListenReady(); })) {
    return Status::Unavailable("cannot watch the listening socket");
  }
  thread_ = std::thread([this] { loop_.Run(); });
  return Status::Ok();
}

void ConnectionLoop::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopped_ = true;
  }
  loop_.Stop();
  thread_.join();
  owned_.clear();
  idle_.clear();
}

void ConnectionLoop::BeginStop() {
  loop_.Post([this] {
    if (stopping_) return;
    stopping_ = true;
    loop_.Unwatch(listen_fd_);
    close(listen_fd_);
    listen_fd_ = -1;
    CloseAllOutsideRequests();
  });
}

void ConnectionLoop::CloseAllOutsideRequests() {
  std::vector<ClientConnection*> all;
  all.reserve(owned_.size());
  for (auto& [connection, owner] : owned_) all.push_back(connection);
  for (ClientConnection* connection : all) Close(connection);
}

void ConnectionLoop::OnListenReady() {
  for (int i = 0; i < kMaxAcceptsPerEvent && listen_fd_ >= 0; ++i) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Adopt(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE) {
      // Idle connections go first; otherwise the reserve answers 503.
      if (CloseOldestIdle()) continue;
      AnswerWithReserve();
    }
    return;  // EAGAIN, or an error that another readiness event retries
  }
}

void ConnectionLoop::AnswerWithReserve() {
  RefusedRequest refused;
  refused.refusal = Refusal{503, "the server is out of file descriptors; retry shortly"};
  if (reserve_fd_ >= 0) {
    close(reserve_fd_);
    reserve_fd_ = -1;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      const std::string bytes = ResponseBytes(503, on_refusal_(refused));
      [[maybe_unused]] ssize_t sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  if (reserve_fd_ < 0 && listen_fd_ >= 0) {
    // Nothing to answer with: stop accepting for a moment rather than spin.
    loop_.Modify(listen_fd_, 0);
    loop_.After(std::chrono::milliseconds(100), [this] {
      if (listen_fd_ < 0) return;
      if (reserve_fd_ < 0) reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
      loop_.Modify(listen_fd_, EPOLLIN);
    });
  }
}

void ConnectionLoop::Adopt(int fd) {
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  auto owner = std::make_unique<ClientConnection>();
  ClientConnection* connection = owner.get();
  connection->fd_ = fd;
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) connection->peer_ = PeerText(address);
  if (!loop_.Watch(fd, EPOLLIN | EPOLLRDHUP, [this, connection](uint32_t events) { OnEvents(connection, events); })) return;
  owned_.emplace(connection, std::move(owner));
  ++open_;
  BeginRequest(connection, options_.header_timeout);
}

void ConnectionLoop::Return(std::unique_ptr<ClientConnection> connection, bool keep_alive) {
  // Posted under the lock, so Stop() (which sets stopped_ under it, then
  // lets the loop run what was posted) never strands a connection; after
  // Stop() it is closed here instead.
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (stopped_) {
    --in_requests_;
    --open_;
    return;  // the destructor closes the socket
  }
  ClientConnection* raw = connection.release();
  loop_.Post([this, raw, keep_alive] {
    std::unique_ptr<ClientConnection> owner(raw);
    --in_requests_;
    if (!keep_alive || stopping_) {
      --open_;
      return;  // the destructor closes the socket
    }
    if (!loop_.Watch(raw->fd_, EPOLLIN | EPOLLRDHUP, [this, raw](uint32_t events) { OnEvents(raw, events); })) {
      --open_;
      return;
    }
    owned_.emplace(raw, std::move(owner));
    BeginRequest(raw, options_.idle_keep_alive);
  });
}

void ConnectionLoop::BeginRequest(ClientConnection* connection, std::chrono::milliseconds first_byte_within) {
  connection->state_ = ClientConnection::State::kIdle;
  connection->scanner_ = HeadScanner(options_.head);
  connection->decoder_.reset();
  connection->body_.clear();
  SetDeadline(connection, first_byte_within);
  MarkIdle(connection, true);
  if (!connection->in_.empty()) Advance(connection);  // a pipelined request is waiting
}

void ConnectionLoop::OnEvents(ClientConnection* connection, uint32_t events) {
  if ((events & EPOLLOUT) != 0) {
    OnWritable(connection);
    if (owned_.find(connection) == owned_.end()) return;
  }
  if ((events & ~static_cast<uint32_t>(EPOLLOUT)) != 0) OnReadable(connection);
}

void ConnectionLoop::OnReadable(ClientConnection* connection) {
  char buffer[kReadBytes];
  size_t read_total = 0;
  while (read_total < kMaxReadPerEvent) {
    const ssize_t received = recv(connection->fd_, buffer, sizeof(buffer), 0);
    if (received < 0 && errno == EINTR) continue;
    if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (received <= 0) {
      // Closed or reset: an incomplete request is dropped, never run.
      Close(connection);
      return;
    }
    read_total += static_cast<size_t>(received);
    if (connection->state_ == ClientConnection::State::kLinger) continue;  // dropped
    connection->in_.append(buffer, static_cast<size_t>(received));
    Advance(connection);
    // Dispatched or closed: `connection` is no longer ours to read.
    if (owned_.find(connection) == owned_.end()) return;
  }
}

void ConnectionLoop::Advance(ClientConnection* connection) {
  using State = ClientConnection::State;
  if (connection->state_ == State::kIdle || connection->state_ == State::kHead) {
    if (connection->in_.empty()) return;
    const HeadScanner::Result result = connection->scanner_.Scan(connection->in_);
    if (connection->state_ == State::kIdle && connection->scanner_.started()) {
      connection->state_ = State::kHead;
      MarkIdle(connection, false);
      // A kept-alive connection's head deadline starts at its first byte;
      // a new connection's started at the accept.
      if (connection->served_ > 0) SetDeadline(connection, options_.header_timeout);
    }
    if (result == HeadScanner::Result::kRefused) return RefuseAndClose(connection, connection->scanner_.refusal());
    if (result == HeadScanner::Result::kNeedMore) return;
    return HeadDone(connection);
  }
  if (connection->state_ == State::kBody) BodyProgress(connection);
}

void ConnectionLoop::HeadDone(ClientConnection* connection) {
  connection->in_.erase(0, connection->scanner_.head_bytes());
  const RequestHead& head = connection->scanner_.head();
  if (head.body == RequestHead::Body::kNone) return Dispatch(connection);
  const size_t limit = options_.max_body_bytes;
  if (head.body == RequestHead::Body::kLength && head.content_length > limit) {
    std::string message = head.content_length == UINT64_MAX
                              ? "request body is over the limit of " + std::to_string(limit) + " bytes"
                              : "request body is " + std::to_string(head.content_length) + " bytes; the limit is " +
                                    std::to_string(limit);
    return RefuseAndClose(connection, Refusal{413, std::move(message)});
  }
  connection->decoder_ = std::make_unique<BodyDecoder>(head, limit);
  connection->state_ = ClientConnection::State::kBody;
  SetDeadline(connection, options_.body_timeout);
  if (head.expect_continue && connection->in_.empty()) Send(connection, "HTTP/1.1 100 Continue\r\n\r\n");
  BodyProgress(connection);
}

void ConnectionLoop::BodyProgress(ClientConnection* connection) {
  size_t consumed = 0;
  const BodyDecoder::Result result = connection->decoder_->Feed(connection->in_, &consumed, &connection->body_);
  connection->in_.erase(0, consumed);
  if (connection->body_.size() > connection->reserved_) {
    const size_t more = connection->body_.size() - connection->reserved_;
    if (!budget_.Reserve(more)) {
      return RefuseAndClose(connection,
                            Refusal{503, "the server holds its limit of " + std::to_string(budget_.limit()) +
                                             " bytes of request bodies; retry shortly"});
    }
    connection->reserved_ += more;
  }
  if (result == BodyDecoder::Result::kRefused) return RefuseAndClose(connection, connection->decoder_->refusal());
  if (result == BodyDecoder::Result::kComplete) Dispatch(connection);
}

void ConnectionLoop::Dispatch(ClientConnection* connection) {
  if (!connection->out_.empty()) {
    // "100 Continue" still waiting for room: the request goes once it is out.
    return;
  }
  loop_.CancelTimer(connection->timer_);
  connection->timer_ = 0;
  loop_.Unwatch(connection->fd_);
  MarkIdle(connection, false);
  ++connection->served_;
  FramedRequest request;
  request.head = std::move(connection->scanner_.head());
  request.body = std::move(connection->body_);
  connection->body_.clear();
  request.last = stopping_ || connection->served_ >= options_.max_requests_per_connection;
  if (connection->reserved_ > 0) {
    BodyBudget* budget = &budget_;
    const size_t bytes = connection->reserved_;
    request.reservation = std::shared_ptr<void>(nullptr, [budget, bytes](void*) { budget->Release(bytes); });
    connection->reserved_ = 0;
  }
  auto found = owned_.find(connection);
  std::unique_ptr<ClientConnection> owner = std::move(found->second);
  owned_.erase(found);
  ++in_requests_;
  on_request_(std::move(owner), std::move(request));
}

void ConnectionLoop::RefuseAndClose(ClientConnection* connection, Refusal refusal) {
  ReleaseBody(connection);
  MarkIdle(connection, false);
  RefusedRequest refused;
  refused.method = std::string(connection->scanner_.method());
  refused.target = std::string(connection->scanner_.target());
  refused.peer = connection->peer_;
  refused.refusal = std::move(refusal);
  const int status = refused.refusal.status;
  connection->out_.clear();
  connection->close_after_out_ = true;
  connection->state_ = ClientConnection::State::kLinger;
  connection->in_.clear();
  SetDeadline(connection, options_.linger);
  Send(connection, ResponseBytes(status, on_refusal_(refused)));
}

void ConnectionLoop::Send(ClientConnection* connection, std::string bytes) {
  connection->out_ += bytes;
  OnWritable(connection);
}

void ConnectionLoop::OnWritable(ClientConnection* connection) {
  while (!connection->out_.empty()) {
    const ssize_t sent =
        send(connection->fd_, connection->out_.data(), connection->out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      loop_.Modify(connection->fd_, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
      // Writable events come to the same callback as readable ones.
      return;
    }
    if (sent <= 0) return Close(connection);
    connection->out_.erase(0, static_cast<size_t>(sent));
  }
  loop_.Modify(connection->fd_, EPOLLIN | EPOLLRDHUP);
  if (connection->close_after_out_) return StartLinger(connection);
  if (connection->state_ == ClientConnection::State::kBody && connection->decoder_ != nullptr) {
    BodyProgress(connection);  // a request that waited for its "100 Continue" to leave
  }
}

void ConnectionLoop::StartLinger(ClientConnection* connection) {
  // The answer is out: say so with a FIN, then read and drop what the
  // client still sends (so the kernel does not reset the connection and
  // lose the answer), for at most the linger time.
  shutdown(connection->fd_, SHUT_WR);
}

void ConnectionLoop::SetDeadline(ClientConnection* connection, std::chrono::milliseconds after) {
  loop_.CancelTimer(connection->timer_);
  connection->timer_ = loop_.After(after, [this, connection] {
    connection->timer_ = 0;
    OnDeadline(connection);
  });
}

void ConnectionLoop::OnDeadline(ClientConnection* connection) {
  switch (connection->state_) {
    case ClientConnection::State::kIdle:
    case ClientConnection::State::kLinger:
      return Close(connection);
    case ClientConnection::State::kHead:
      return RefuseAndClose(connection, Refusal{408, "the request head did not arrive within " +
                                                         SecondsText(options_.header_timeout)});
    case ClientConnection::State::kBody:
      return RefuseAndClose(connection, Refusal{408, "the request body did not arrive within " +
                                                         SecondsText(options_.body_timeout)});
  }
}

void ConnectionLoop::MarkIdle(ClientConnection* connection, bool idle) {
  if (idle == connection->in_idle_list_) return;
  if (idle) {
    connection->idle_position_ = idle_.insert(idle_.end(), connection);
  } else {
    idle_.erase(connection->idle_position_);
  }
  connection->in_idle_list_ = idle;
}

bool ConnectionLoop::CloseOldestIdle() {
  while (!idle_.empty()) {
    ClientConnection* oldest = idle_.front();
    // One whose request is already waiting in the kernel is not idle: read
    // it (which takes it off the idle list) and look at the next.
    char byte;
    if (recv(oldest->fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1) {
      OnReadable(oldest);
      if (owned_.find(oldest) != owned_.end() && oldest->in_idle_list_) Close(oldest);
      continue;
    }
    Close(oldest);
    return true;
  }
  return false;
}

void ConnectionLoop::ReleaseBody(ClientConnection* connection) {
  if (connection->reserved_ > 0) budget_.Release(connection->reserved_);
  connection->reserved_ = 0;
  connection->body_.clear();
  connection->body_.shrink_to_fit();
}

void ConnectionLoop::Close(ClientConnection* connection) {
  loop_.CancelTimer(connection->timer_);
  loop_.Unwatch(connection->fd_);
  MarkIdle(connection, false);
  ReleaseBody(connection);
  owned_.erase(connection);  // the destructor closes the socket
  --open_;
}

}  // namespace flowrun
