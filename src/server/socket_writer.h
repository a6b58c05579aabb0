// SocketWriter: a worker thread's writes of a plain response to a client
// socket (streams are written by the run loop: loop_socket_writer.h). A
// write waits for a slow client, and gives up only once the client has
// taken nothing for the write timeout (write_progress.h says how progress
// is judged). Used by one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>

#include "server/write_progress.h"

namespace flowrun {

// Waits up to `timeout` for `events` (POLLIN, POLLOUT) on `sock`; true when
// they, a hang-up or an error came.
bool WaitForSocket(int sock, short events, std::chrono::milliseconds timeout);

class SocketWriter {
 public:
  SocketWriter(int sock, std::chrono::milliseconds write_timeout) : sock_(sock), write_timeout_(write_timeout) {}

  // All of `data` is sent; false when the client is gone.
  bool Write(const char* data, size_t size);

 private:
  // Waits until the socket may take more; false once the client has taken
  // nothing for the write timeout.
  bool WaitForRoom();

  int sock_;
  std::chrono::milliseconds write_timeout_;
  WriteProgress progress_;
};

}  // namespace flowrun
