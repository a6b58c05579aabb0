// A framed request served by httplib from memory; writes go to the socket.
#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "server/socket_writer.h"

namespace flowrun {
namespace {

thread_local std::optional<DetachedStream>* current_detached = nullptr;

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
      : sock_(sock), head_(head), body_(body), writer_(sock, write_timeout) {}

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
  // client up to the write timeout).
  ssize_t write(const char* data, size_t size) override {
    if (discard_) return static_cast<ssize_t>(size);
    return writer_.Write(data, size) ? static_cast<ssize_t>(size) : -1;
  }

  // The response was detached: httplib's rendering of it goes nowhere.
  void Discard() { discard_ = true; }

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
  bool discard_ = false;
};

namespace {
thread_local ConnectionStream* current_stream = nullptr;
}  // namespace

void DetachCurrentResponse(DetachedStream stream) {
  if (current_stream == nullptr || current_detached == nullptr) return;
  current_stream->Discard();
  current_detached->emplace(std::move(stream));
}

bool FlowrunHttplibServer::ServeFramed(int fd, const FramedRequest& request,
                                       std::optional<DetachedStream>* detached) {
  const std::string head = CanonicalHead(request.head, request.body.size());
  ConnectionStream stream(fd, head, request.body, write_timeout_);
  current_stream = &stream;
  current_detached = detached;
  bool connection_closed = false;
  const bool close_after = request.last || !request.head.keep_alive;
  const bool ok = process_request(stream, close_after, connection_closed, nullptr);
  current_stream = nullptr;
  current_detached = nullptr;
  if (detached->has_value()) return !close_after;
  return ok && !connection_closed && !close_after;
}

}  // namespace flowrun
