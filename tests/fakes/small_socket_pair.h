// Test support for client-socket writers: a connected AF_UNIX socket pair
// with small buffers (so a few KiB fill it), and a recognisable byte
// pattern to check that what arrives is what was sent, in order.
// Header-only; each object is used by one test at a time.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace flowrun::testing {

// Bytes whose order shows: a shifted or dropped block would not match.
inline std::string Pattern(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return data;
}

// fds[0] is the server's side (4 KiB send buffer), fds[1] the client's (4 KiB receive buffer).
struct SmallSocketPair {
  SmallSocketPair() {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return;
    int small = 4096;
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  }
  ~SmallSocketPair() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  SmallSocketPair(const SmallSocketPair&) = delete;
  SmallSocketPair& operator=(const SmallSocketPair&) = delete;
  bool ok() const { return fds[0] >= 0 && fds[1] >= 0; }
  void CloseClient() {
    close(fds[1]);
    fds[1] = -1;
  }

  int fds[2] = {-1, -1};
};

}  // namespace flowrun::testing
