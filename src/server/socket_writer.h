// SocketWriter: writes a response to a client socket. A worker thread may
// wait for a slow client; an event-loop thread (core/event_loop_thread.h)
// never waits: what the socket does not take now is kept, in order, and sent
// by later writes or SendBuffered(). A client counts as gone only when it has
// taken nothing for the write timeout: any byte the socket accepts, or the
// kernel's queue towards the client shrinking (the client acknowledged data),
// restarts that clock, so a client that keeps reading, however slowly, is
// never given up on. A write made while more than max_buffered bytes are
// already kept is refused (a safety net: callers stop writing while
// Backlogged, and bound each write). Used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace flowrun {

// Waits up to `timeout` for `events` (POLLIN, POLLOUT) on `sock`; true when
// they, a hang-up or an error came.
bool WaitForSocket(int sock, short events, std::chrono::milliseconds timeout);

class SocketWriter {
 public:
  SocketWriter(int sock, std::chrono::milliseconds write_timeout, size_t max_buffered)
      : sock_(sock), write_timeout_(write_timeout), max_buffered_(max_buffered) {}

  // All of `data` is sent or kept; false when the client is gone.
  bool Write(const char* data, size_t size);
  // Sends what is kept, as far as the socket takes it now. Never blocks.
  bool SendBuffered();
  size_t buffered() const { return buffered_.size(); }

 private:
  bool WriteWithoutWaiting(const char* data, size_t size);
  bool SendBufferedWaiting();
  // The socket just refused bytes: the no-progress clock starts now.
  void StartClock();
  // After a send while bytes wait: did the client take any since the last look?
  void LookForProgress(bool sent_some);
  bool TimedOut() const;
  // A worker waits until the socket may take more; false once the client has
  // taken nothing for the write timeout.
  bool WaitForRoom();

  int sock_;
  std::chrono::milliseconds write_timeout_;
  size_t max_buffered_;
  std::string buffered_;
  std::chrono::steady_clock::time_point progress_at_;  // the client last took bytes
  long queued_ = -1;  // the kernel's bytes towards the client at the last look (-1: unknown)
};

}  // namespace flowrun
