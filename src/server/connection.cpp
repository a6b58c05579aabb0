// The keep-alive loop and the socket stream httplib reads requests from.
#include "server/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/socket_writer.h"
#include "server/worker_pool.h"

namespace flowrun {
namespace {

thread_local int current_socket = -1;
thread_local ConnectionStream* current_stream = nullptr;

// How far a client may fall behind a stream written from an event loop
// (beyond what the kernel buffers) before it counts as gone. A safety net:
// flow control pauses the upstream long before (curl_loop.h).
constexpr size_t kMaxBufferedBytes = 256 * 1024;

std::string AddressText(const sockaddr_storage& address, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text));
    *port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text));
    *port = ntohs(v6.sin6_port);
  }
  return text;
}


}  // namespace

class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int sock, const ConnectionLimits& limits)
      : sock_(sock), limits_(limits), writer_(sock, limits.write_timeout, kMaxBufferedBytes) {}

  bool is_readable() const override { return begin_ < end_ || WaitForSocket(sock_, POLLIN, limits_.read_timeout); }
  bool HasBufferedData() const { return begin_ < end_; }
  // httplib asks before every chunk; write() itself waits when it must.
  bool is_writable() const override { return true; }

  // httplib reads request lines one byte at a time: serve those from a
  // buffer filled by one recv(), not a poll() and a recv() per byte.
  ssize_t read(char* data, size_t size) override {
    if (begin_ == end_) {
      if (!WaitForSocket(sock_, POLLIN, limits_.read_timeout)) return -1;
      if (size >= sizeof(buffer_)) return Receive(data, size);  // large reads need no buffer
      const ssize_t received = Receive(buffer_, sizeof(buffer_));
      if (received <= 0) return received;
      begin_ = 0;
      end_ = static_cast<size_t>(received);
    }
    const size_t count = std::min(size, end_ - begin_);
    std::memcpy(data, buffer_ + begin_, count);
    begin_ += count;
    return static_cast<ssize_t>(count);
  }

  // Writes everything or fails (SocketWriter: a worker waits for a slow
  // client up to the write timeout, an event loop keeps what waits).
  ssize_t write(const char* data, size_t size) override {
    return writer_.Write(data, size) ? static_cast<ssize_t>(size) : -1;
  }

  // Sends what writes on an event loop kept; false once the client is gone.
  bool SendBuffered() { return writer_.SendBuffered(); }
  size_t backlog() const { return writer_.buffered(); }

  ssize_t Receive(char* data, size_t size) {
    ssize_t received;
    do {
      received = recv(sock_, data, size, 0);
    } while (received < 0 && errno == EINTR);
    return received;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getpeername(sock_, reinterpret_cast<sockaddr*>(&address), &length) == 0) ip = AddressText(address, &port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&address), &length) == 0) ip = AddressText(address, &port);
  }
  socket_t socket() const override { return sock_; }

 private:
  int sock_;
  const ConnectionLimits& limits_;
  char buffer_[1024];  // lives on every worker's stack: a request line and headers fit
  size_t begin_ = 0;
  size_t end_ = 0;
  SocketWriter writer_;
};


bool SendConnectionBuffered(ConnectionStream* stream) { return stream == nullptr || stream->SendBuffered(); }

size_t ConnectionBacklog(const ConnectionStream* stream) { return stream == nullptr ? 0 : stream->backlog(); }

ConnectionStream* CurrentConnectionStream() { return current_stream; }

bool PeerClosed(int sock) {
  pollfd poll_fd{sock, POLLRDHUP, 0};
  if (poll(&poll_fd, 1, 0) <= 0) return false;
  return (poll_fd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

int CurrentRequestSocket() { return current_socket; }

void FlowrunHttplibServer::RaiseListenBacklog() {
  const int sock = svr_sock_.load();
  if (sock >= 0) ::listen(sock, SOMAXCONN);
}

void FlowrunHttplibServer::UseWorkerPool(size_t max_threads, std::chrono::milliseconds idle_exit) {
  new_task_queue = [this, max_threads, idle_exit] {
    WorkerPoolOptions options;
    options.max_threads = max_threads;
    options.idle_exit = idle_exit;
    options.min_threads = std::min(options.min_threads, max_threads);
    auto* pool = new WorkerPool(options);
    pool_.store(pool);
    return pool;
  };
}

bool FlowrunHttplibServer::WaitForNextRequest(int sock, std::chrono::milliseconds limit, bool may_yield) const {
  constexpr std::chrono::milliseconds kSlice{50};
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!stopping_.load()) {
    if (WaitForSocket(sock, POLLIN, kSlice)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // A connection that only holds its worker yields it to one that waits.
    WorkerPool* pool = pool_.load();
    if (may_yield && pool != nullptr && pool->waiting() > 0 && pool->Saturated()) return false;
  }
  return false;
}

bool FlowrunHttplibServer::process_and_close_socket(socket_t sock) {
  int yes = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  ConnectionStream stream(sock, limits_);
  current_socket = sock;
  current_stream = &stream;
  bool ok = true;
  for (int served = 0; served < limits_.max_requests_per_connection; ++served) {
    const bool kept_alive = served > 0;
    if (!stream.HasBufferedData() &&
        !WaitForNextRequest(sock, kept_alive ? limits_.idle_keep_alive : limits_.read_timeout, kept_alive)) {
      break;
    }
    const bool last = served + 1 == limits_.max_requests_per_connection || stopping_.load();
    bool connection_closed = false;
    ok = process_request(stream, last, connection_closed, nullptr);
    if (!ok || connection_closed) break;
  }
  current_socket = -1;
  current_stream = nullptr;
  shutdown(sock, SHUT_RDWR);
  close(sock);
  return ok;
}

}  // namespace flowrun
