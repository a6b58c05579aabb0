// slow_clients: scenario e. Opens N connections to flowrun that each send
// the start of a request head and then one more byte every --drip-ms (a
// slowloris attack, below any per-byte timeout), and meanwhile times M
// sequential GET /healthz requests on fresh connections. Prints one JSON
// line: the /healthz latency distribution, how many attack connections
// were open, and flowrun's threads and RSS during the attack.
//   slow_clients --port P --connections 2000 --requests 200 --drip-ms 200 --pid PID
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "common.h"

namespace {

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  return fd;
}

// One GET /healthz on a new connection; nanoseconds, or -1 on failure.
int64_t TimeHealthz(int port) {
  const int64_t start = bench::NowNs();
  const int fd = Connect(port);
  if (fd < 0) return -1;
  const char request[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
  if (send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  std::string answer;
  char buffer[4096];
  while (true) {
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) break;
    answer.append(buffer, static_cast<size_t>(got));
  }
  close(fd);
  return answer.rfind("HTTP/1.1 200", 0) == 0 ? bench::NowNs() - start : -1;
}

long ProcField(int pid, const char* field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, connections = 2000, requests = 200, drip_ms = 200, pid = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--port") port = value;
    if (flag == "--connections") connections = value;
    if (flag == "--requests") requests = value;
    if (flag == "--drip-ms") drip_ms = value;
    if (flag == "--pid") pid = value;
  }
  bench::RaiseFdLimit();
  std::vector<int> drippers;
  const std::string start = "GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ";
  for (int i = 0; i < connections; ++i) {
    const int fd = Connect(port);
    if (fd < 0) break;
    (void)send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    bench::SetNonBlocking(fd);
    drippers.push_back(fd);
  }
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    while (dripping) {
      for (int fd : drippers) (void)send(fd, "a", 1, MSG_NOSIGNAL);
      const int64_t until = bench::NowNs() + int64_t{drip_ms} * 1000000;
      while (dripping && bench::NowNs() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  bench::Histogram latency;
  int failures = 0;
  long threads = -1, rss_kib = -1;
  for (int i = 0; i < requests; ++i) {
    const int64_t ns = TimeHealthz(port);
    if (ns < 0) {
      ++failures;
    } else {
      latency.Add(ns);
    }
    if (i == requests / 2 && pid > 0) {
      threads = ProcField(pid, "Threads:");
      rss_kib = ProcField(pid, "VmRSS:");
    }
  }
  dripping = false;
  drip.join();
  for (int fd : drippers) close(fd);
  std::printf(
      "{\"label\":\"e:flowrun\",\"attack_connections\":%zu,\"requests\":%d,\"failures\":%d,"
      "\"healthz_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"threads\":%ld,\"rss_mib\":%.1f}\n",
      drippers.size(), requests, failures, latency.Quantile(0.5) / 1e6, latency.Quantile(0.99) / 1e6,
      static_cast<double>(latency.max()) / 1e6, threads, rss_kib / 1024.0);
  return failures == 0 ? 0 : 1;
}
