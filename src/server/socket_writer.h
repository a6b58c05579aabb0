// SocketWriter: writes a response to a client socket. A worker thread may
// wait for a slow client (up to the write timeout); an event-loop thread
// (core/event_loop_thread.h) never waits: what the socket does not take now
// is kept, in order, and sent by later writes or SendBuffered(). A client
// that takes nothing for the write timeout, or falls more than max_buffered
// bytes behind, is gone. Used by one thread at a time.
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

  int sock_;
  std::chrono::milliseconds write_timeout_;
  size_t max_buffered_;
  std::string buffered_;
  std::chrono::steady_clock::time_point progress_at_;  // last byte sent while bytes were kept
};

}  // namespace flowrun
