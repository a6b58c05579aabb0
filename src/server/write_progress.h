// Writing to a client socket without blocking, and the clock that decides
// when a slow client counts as gone. A client is gone only when it has
// taken nothing for the write timeout: any byte the socket accepts, or the
// kernel's queue towards the client shrinking (the client acknowledged
// data), restarts the clock. The kernel reports a TCP socket writable only
// once a third of its send buffer is free; with a multi-MiB send buffer a
// client reading at a few hundred KB/s takes longer than the write timeout
// to free that much, so waiting for writability alone would drop a client
// that reads all the time. Shared by the worker's SocketWriter and the run
// loop's LoopSocketWriter. A WriteProgress is used by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>

namespace flowrun {

// Sends as much of data[0, size) as the socket takes now: the count, or -1
// when the connection failed. Never blocks.
ssize_t SendNow(int fd, const char* data, size_t size);

class WriteProgress {
 public:
  using Clock = std::chrono::steady_clock;

  // The socket just refused bytes: the clock starts now.
  void Start(int fd);
  // The socket accepted bytes.
  void Sent() { progress_at_ = Clock::now(); }
  // While bytes wait: the kernel's queue shrinking is progress too.
  void Look(int fd);
  // How long the client has taken nothing.
  Clock::duration Idle() const { return Clock::now() - progress_at_; }

 private:
  Clock::time_point progress_at_ = Clock::now();
  long queued_ = -1;  // the kernel's bytes towards the client at the last look (-1: unknown)
};

}  // namespace flowrun
