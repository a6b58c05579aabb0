// A worker's writes to a client socket (socket_writer.h): send first, and
// wait only when the socket is full.
#include "server/socket_writer.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace flowrun {
namespace {

// A waiting worker looks at the send queue this often.
constexpr std::chrono::milliseconds kWaitSlice{100};

}  // namespace

bool WaitForSocket(int sock, short events, std::chrono::milliseconds timeout) {
  pollfd poll_fd{sock, events, 0};
  int ready;
  do {
    ready = poll(&poll_fd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  return ready > 0 && (poll_fd.revents & (events | POLLHUP | POLLERR)) != 0;
}

bool SocketWriter::WaitForRoom() {
  while (true) {
    const auto left = write_timeout_ - std::chrono::duration_cast<std::chrono::milliseconds>(progress_.Idle());
    if (left.count() < 0) return false;
    if (WaitForSocket(sock_, POLLOUT, std::min(kWaitSlice, left + std::chrono::milliseconds(1)))) return true;
    progress_.Look(sock_);
  }
}

bool SocketWriter::Write(const char* data, size_t size) {
  size_t written = 0;
  bool waiting = false;
  while (true) {
    const ssize_t sent = SendNow(sock_, data + written, size - written);
    if (sent < 0) return false;
    written += static_cast<size_t>(sent);
    if (written == size) return true;
    if (!waiting) {
      progress_.Start(sock_);
      waiting = true;
    } else if (sent > 0) {
      progress_.Sent();
    } else {
      progress_.Look(sock_);
    }
    if (!WaitForRoom()) return false;
  }
}

}  // namespace flowrun
