// Raw-socket probes: exact bytes out, everything in, until close or deadline.
#include "fakes/socket_probe.h"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "fakes/raw_http_client.h"

namespace flowrun::testing {

using Clock = std::chrono::steady_clock;

bool ReadUntilClosed(int fd, std::string& out, std::chrono::milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  char buffer[16384];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd poll_fd{fd, POLLIN, 0};
    if (poll(&poll_fd, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
    if (received <= 0) return true;
    out.append(buffer, static_cast<size_t>(received));
  }
}

Exchange SendAndRead(int port, const std::string& request, std::chrono::milliseconds deadline) {
  Exchange exchange;
  const int fd = ConnectTo(port);
  if (fd < 0) return exchange;
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t count = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (count <= 0) break;  // the server may close while we still send
    sent += static_cast<size_t>(count);
  }
  const auto start = Clock::now();
  exchange.closed = ReadUntilClosed(fd, exchange.bytes, deadline);
  if (exchange.closed) exchange.closed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  close(fd);
  return exchange;
}

int CountResponses(const std::string& bytes) {
  int count = 0;
  for (size_t at = bytes.find("HTTP/1.1 "); at != std::string::npos; at = bytes.find("HTTP/1.1 ", at + 1)) {
    if (at == 0 || bytes.compare(at - 2, 2, "\r\n") == 0 || bytes[at - 1] == '}' || bytes[at - 1] == '\n') ++count;
  }
  return count;
}

int FirstStatus(const std::string& bytes) {
  if (bytes.size() < 12 || bytes.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
  return std::stoi(bytes.substr(9, 3));
}

std::string FirstError(const std::string& bytes) {
  const size_t body = bytes.find("\r\n\r\n");
  if (body == std::string::npos) return "";
  const size_t end = bytes.find("HTTP/1.1 ", body);
  auto json = nlohmann::json::parse(bytes.substr(body + 4, end == std::string::npos ? std::string::npos : end - body - 4),
                                    nullptr, false);
  return json.is_object() && json.contains("error") && json["error"].is_string() ? json["error"].get<std::string>()
                                                                                   : "";
}

long RaiseOpenFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<long>(limit.rlim_cur);
}

}  // namespace flowrun::testing
