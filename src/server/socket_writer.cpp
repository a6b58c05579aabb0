// Client-socket writes for workers (may wait) and event loops (never wait).
// The kernel reports a TCP socket writable only once a third of its send
// buffer is free; with a multi-MiB send buffer a client reading at a few
// hundred KB/s takes longer than the write timeout to free that much, so
// waiting for POLLOUT alone would drop it although it reads all the time.
// Progress is therefore judged by what the client takes: bytes the socket
// accepts, or the kernel's send queue (SIOCOUTQ) shrinking.
#include "server/socket_writer.h"

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/event_loop_thread.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

// A waiting worker looks at the send queue this often.
constexpr std::chrono::milliseconds kWaitSlice{100};

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

// Bytes the kernel still holds for the peer (not sent, or not acknowledged);
// -1 when the socket cannot tell.
long QueuedInKernel(int sock) {
  int queued = 0;
  return ioctl(sock, SIOCOUTQ, &queued) == 0 ? queued : -1;
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

void SocketWriter::StartClock() {
  progress_at_ = Clock::now();
  queued_ = QueuedInKernel(sock_);
}

void SocketWriter::LookForProgress(bool sent_some) {
  const long queued = QueuedInKernel(sock_);
  if (sent_some || (queued >= 0 && queued_ >= 0 && queued < queued_)) progress_at_ = Clock::now();
  queued_ = queued;
}

bool SocketWriter::TimedOut() const { return Clock::now() - progress_at_ > write_timeout_; }

bool SocketWriter::WaitForRoom() {
  while (true) {
    const auto left = write_timeout_ - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - progress_at_);
    if (left.count() < 0) return false;
    if (WaitForSocket(sock_, POLLOUT, std::min(kWaitSlice, left + std::chrono::milliseconds(1)))) return true;
    LookForProgress(/*sent_some=*/false);
  }
}

bool SocketWriter::Write(const char* data, size_t size) {
  if (OnEventLoopThread()) return WriteWithoutWaiting(data, size);
  if (!SendBufferedWaiting()) return false;
  // Send first and wait only when the socket is full: usually one call.
  size_t written = 0;
  bool waiting = false;
  while (true) {
    const ssize_t sent = SendNow(sock_, data + written, size - written);
    if (sent < 0) return false;
    written += static_cast<size_t>(sent);
    if (written == size) return true;
    if (waiting) {
      LookForProgress(sent > 0);
    } else {
      StartClock();
      waiting = true;
    }
    if (!WaitForRoom()) return false;
  }
}

bool SocketWriter::SendBuffered() {
  if (buffered_.empty()) return true;
  const ssize_t sent = SendNow(sock_, buffered_.data(), buffered_.size());
  if (sent < 0) return false;
  buffered_.erase(0, static_cast<size_t>(sent));
  if (buffered_.empty()) return true;
  LookForProgress(sent > 0);
  return !TimedOut();
}

bool SocketWriter::WriteWithoutWaiting(const char* data, size_t size) {
  if (!SendBuffered()) return false;
  if (!buffered_.empty()) {
    // Already behind: keep this too, unless the client is too far behind.
    if (buffered_.size() > max_buffered_) return false;
    buffered_.append(data, size);
    return true;
  }
  const ssize_t sent = SendNow(sock_, data, size);
  if (sent < 0) return false;
  const size_t written = static_cast<size_t>(sent);
  if (written == size) return true;
  StartClock();
  buffered_.append(data + written, size - written);
  return true;
}

bool SocketWriter::SendBufferedWaiting() {
  while (true) {
    if (!SendBuffered()) return false;
    if (buffered_.empty()) return true;
    if (!WaitForRoom()) return false;
  }
}

}  // namespace flowrun
