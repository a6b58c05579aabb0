// A framed request served by httplib from memory; writes go to the socket.
#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "server/socket_writer.h"

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
  ConnectionStream(int sock, std::string_view head, std::string_view body, std::chrono::milliseconds write_timeout)
      : sock_(sock), head_(head), body_(body), writer_(sock, write_timeout, kMaxBufferedBytes) {}

  // Reads come from the framed request only: past its end, end of input.
  bool is_readable() const override { return !head_.empty() || !body_.empty(); }
  // httplib asks before every chunk; write() itself waits when it must.
  bool is_writable() const override { return true; }

  ssize_t read(char* data, size_t size) override {
    std::string_view& from = head_.empty() ? body_ : head_;
    const size_t count = std::min(size, from.size());
    std::memcpy(data, from.data(), count);
    from.remove_prefix(count);
    return static_cast<ssize_t>(count);
  }

  // Writes everything or fails (SocketWriter: a worker waits for a slow
  // client up to the write timeout, an event loop keeps what waits).
  ssize_t write(const char* data, size_t size) override {
    return writer_.Write(data, size) ? static_cast<ssize_t>(size) : -1;
  }

  // Sends what writes on an event loop kept; false once the client is gone.
  bool SendBuffered() { return writer_.SendBuffered(); }
  // On a worker: waits (up to the write timeout) until nothing is kept.
  bool SendAllBuffered() { return writer_.Write("", 0); }
  size_t backlog() const { return writer_.buffered(); }

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
  std::string_view head_;
  std::string_view body_;
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

bool FlowrunHttplibServer::ServeFramed(int fd, const FramedRequest& request) {
  const std::string head = CanonicalHead(request.head, request.body.size());
  ConnectionStream stream(fd, head, request.body, write_timeout_);
  current_socket = fd;
  current_stream = &stream;
  bool connection_closed = false;
  const bool close_after = request.last || !request.head.keep_alive;
  bool ok = process_request(stream, close_after, connection_closed, nullptr);
  // Whatever a stream left buffered (written from an event loop) goes out
  // before the connection waits for its next request.
  ok = ok && stream.SendAllBuffered();
  current_socket = -1;
  current_stream = nullptr;
  return ok && !connection_closed && !close_after;
}

}  // namespace flowrun
