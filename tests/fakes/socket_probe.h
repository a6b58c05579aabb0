// Raw-socket probes for the front end's tests: send exact bytes (any
// framing, broken on purpose), keep the connection open, and read what the
// server answers until it closes or a deadline passes.
#pragma once

#include <chrono>
#include <string>

namespace flowrun::testing {

struct Exchange {
  std::string bytes;     // everything received
  bool closed = false;   // the server closed (EOF or reset) before the deadline
  double closed_ms = -1; // when, from the end of sending
};

// Connects, sends `request`, and reads until the server closes or
// `deadline` passes. The client never closes its own side first.
Exchange SendAndRead(int port, const std::string& request, std::chrono::milliseconds deadline);

// Reads from `fd` until EOF, a reset or `deadline`; appends to `out`.
// True when the server closed.
bool ReadUntilClosed(int fd, std::string& out, std::chrono::milliseconds deadline);

// How many HTTP responses `bytes` holds (status lines), and the first status.
int CountResponses(const std::string& bytes);
int FirstStatus(const std::string& bytes);
// The JSON "error" of the first response's body, or "".
std::string FirstError(const std::string& bytes);

// Raises this process's open-file limit to its hard limit; returns it.
long RaiseOpenFileLimit();

}  // namespace flowrun::testing
