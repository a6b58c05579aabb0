// Non-blocking sends and the client's progress clock (write_progress.h).
#include "server/write_progress.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

namespace flowrun {
namespace {

// Bytes the kernel still holds for the peer (not sent, or not acknowledged);
// -1 when the socket cannot tell.
long QueuedInKernel(int fd) {
  int queued = 0;
  return ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : -1;
}

}  // namespace

ssize_t SendNow(int fd, const char* data, size_t size) {
  size_t sent_total = 0;
  while (sent_total < size) {
    const ssize_t sent = send(fd, data + sent_total, size - sent_total, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    sent_total += static_cast<size_t>(sent);
  }
  return static_cast<ssize_t>(sent_total);
}

void WriteProgress::Start(int fd) {
  progress_at_ = Clock::now();
  queued_ = QueuedInKernel(fd);
}

void WriteProgress::Look(int fd) {
  const long queued = QueuedInKernel(fd);
  if (queued >= 0 && queued_ >= 0 && queued < queued_) progress_at_ = Clock::now();
  queued_ = queued;
}

}  // namespace flowrun
