// Client-socket writes for workers (may wait) and event loops (never wait).
#include "server/socket_writer.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "core/event_loop_thread.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

// Sends as much of data[0, size) as the socket takes now: the count, or -1
// when the connection failed.
ssize_t SendNow(int sock, const char* data, size_t size) {
  size_t sent_total = 0;
  while (sent_total < size) {
    const ssize_t sent = send(sock, data + sent_total, size - sent_total, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    sent_total += static_cast<size_t>(sent);
  }
  return static_cast<ssize_t>(sent_total);
}

}  // namespace

bool WaitForSocket(int sock, short events, std::chrono::milliseconds timeout) {
  pollfd poll_fd{sock, events, 0};
  int ready;
  do {
    ready = poll(&poll_fd, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  return ready > 0 && (poll_fd.revents & (events | POLLHUP | POLLERR)) != 0;
}

bool SocketWriter::Write(const char* data, size_t size) {
  if (OnEventLoopThread()) return WriteWithoutWaiting(data, size);
  if (!SendBufferedWaiting()) return false;
  // Send first and wait only when the socket is full: usually one call.
  size_t written = 0;
  while (written < size) {
    const ssize_t sent = SendNow(sock_, data + written, size - written);
    if (sent < 0) return false;
    written += static_cast<size_t>(sent);
    if (written < size && !WaitForSocket(sock_, POLLOUT, write_timeout_)) return false;
  }
  return true;
}

bool SocketWriter::SendBuffered() {
  if (buffered_.empty()) return true;
  const ssize_t sent = SendNow(sock_, buffered_.data(), buffered_.size());
  if (sent < 0) return false;
  if (sent > 0) {
    buffered_.erase(0, static_cast<size_t>(sent));
    progress_at_ = Clock::now();
  }
  return buffered_.empty() || Clock::now() - progress_at_ <= write_timeout_;
}

bool SocketWriter::WriteWithoutWaiting(const char* data, size_t size) {
  if (!SendBuffered()) return false;
  size_t written = 0;
  if (buffered_.empty()) {
    const ssize_t sent = SendNow(sock_, data, size);
    if (sent < 0) return false;
    written = static_cast<size_t>(sent);
    if (written == size) return true;
    progress_at_ = Clock::now();
  }
  buffered_.append(data + written, size - written);
  return buffered_.size() <= max_buffered_;
}

bool SocketWriter::SendBufferedWaiting() {
  while (true) {
    if (!SendBuffered()) return false;
    if (buffered_.empty()) return true;
    if (!WaitForSocket(sock_, POLLOUT, write_timeout_)) return false;
  }
}

}  // namespace flowrun
