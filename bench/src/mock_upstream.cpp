// mock_upstream: a single-threaded epoll OpenAI-compatible streaming server
// for benchmarks.
//
//   POST .../chat/completions  -> 200 text/event-stream, Transfer-Encoding: chunked,
//        N chunks `data: {"choices":[{"delta":{"content":"t<i> "}}]}` D ms apart
//        (D = 0: all at once), a finish_reason chunk, then `data: [DONE]`.
//        N and D come from --tokens/--delay-ms, or from a request model named
//        "bench-<N>x<D>" (e.g. "bench-50x20").
//   GET /healthz               -> 200 ok
//
// HTTP/1.1 keep-alive, pipelining-safe. Pacing uses one FIFO of deadlines per
// distinct delay (deadlines pushed in time order stay sorted), so thousands
// of paced streams cost O(1) per token and no threads.
//
// Prints "listening on http://HOST:PORT" on stdout once bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common.h"

namespace {

using bench::NowNs;

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  int tokens = 20;
  int delay_ms = 0;
  size_t max_requests = 0;  // 0: unlimited requests per connection
};

struct Conn {
  int fd = -1;
  uint64_t generation = 0;
  std::string in;
  std::string out;
  size_t out_off = 0;
  bool streaming = false;
  bool close_after = false;  // close once `out` is flushed
  bool want_out = false;     // EPOLLOUT registered
  bool close_when_done = false;  // close after the current stream
  int tokens = 0, next = 0;
  int delay_ms = 0;
  std::string model;
  size_t served = 0;
};

struct Timer {
  int64_t deadline;
  int fd;
  uint64_t generation;
};

Config g_config;
int g_epoll = -1;
std::vector<std::unique_ptr<Conn>> g_conns;  // indexed by fd
std::map<int, std::deque<Timer>> g_timers;   // delay_ms -> FIFO sorted by deadline
uint64_t g_generation = 0;
uint64_t g_streams = 0;

void UpdateEvents(Conn& c) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (c.want_out ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.fd = c.fd;
  epoll_ctl(g_epoll, EPOLL_CTL_MOD, c.fd, &ev);
}

void CloseConn(Conn& c) {
  if (c.fd < 0) return;
  epoll_ctl(g_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  c.fd = -1;
  c.generation = ++g_generation;
}

// Tries to send pending output; returns false if the connection was closed.
bool Flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.want_out) {
        c.want_out = true;
        UpdateEvents(c);
      }
      return true;
    }
    CloseConn(c);
    return false;
  }
  c.out.clear();
  c.out_off = 0;
  if (c.want_out) {
    c.want_out = false;
    UpdateEvents(c);
  }
  if (c.close_after) {
    shutdown(c.fd, SHUT_WR);
    CloseConn(c);
    return false;
  }
  return true;
}

void AppendChunked(std::string& out, std::string_view payload) {
  char size[24];
  int n = snprintf(size, sizeof(size), "%zx\r\n", payload.size());
  out.append(size, static_cast<size_t>(n));
  out.append(payload);
  out.append("\r\n");
}

void AppendToken(Conn& c, int index) {
  char event[512];
  int n = snprintf(event, sizeof(event),
                   "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                   "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d \"},"
                   "\"finish_reason\":null}]}\n\n",
                   c.model.c_str(), index);
  AppendChunked(c.out, std::string_view(event, static_cast<size_t>(n)));
}

void AppendEnd(Conn& c) {
  char event[512];
  int n = snprintf(event, sizeof(event),
                   "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                   "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                   "data: [DONE]\n\n",
                   c.model.c_str());
  AppendChunked(c.out, std::string_view(event, static_cast<size_t>(n)));
  c.out.append("0\r\n\r\n");
}

void ProcessInput(Conn& c);

void FinishStream(Conn& c) {
  AppendEnd(c);
  c.streaming = false;
  g_streams++;
  if (!Flush(c)) return;
  if (!c.in.empty()) ProcessInput(c);  // a pipelined next request
}

void SimpleResponse(Conn& c, int status, const char* reason, std::string_view body) {
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n", status, reason,
                   body.size(), c.close_after ? "Connection: close\r\n" : "");
  c.out.append(head, static_cast<size_t>(n));
  c.out.append(body);
}

void ParseModel(std::string_view body, Conn& c) {
  c.tokens = g_config.tokens;
  c.delay_ms = g_config.delay_ms;
  c.model = "bench";
  size_t at = bench::FindJsonValue(body, "model");
  std::string model;
  if (at == std::string_view::npos || !bench::DecodeJsonString(body, at, &model)) return;
  // Keep it printable and short: it is echoed into every chunk.
  std::string safe;
  for (char ch : model) {
    if (safe.size() < 64 && (isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_'))
      safe.push_back(ch);
  }
  c.model = safe.empty() ? "bench" : safe;
  int n = 0, d = 0;
  if (sscanf(model.c_str(), "bench-%dx%d", &n, &d) == 2 && n >= 0 && n <= 1000000 && d >= 0 && d <= 600000) {
    c.tokens = n;
    c.delay_ms = d;
  }
}

// Parses and answers every complete request in `c.in` (stops while streaming).
void ProcessInput(Conn& c) {
  while (!c.streaming && c.fd >= 0 && !c.close_after) {
    size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      if (c.in.size() > 65536) {
        c.close_after = true;
        SimpleResponse(c, 431, "Request Header Fields Too Large", "headers too large\n");
        Flush(c);
      }
      return;
    }
    std::string_view head(c.in.data(), head_end);
    size_t line_end = head.find("\r\n");
    std::string_view request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.find(' ', sp1 == std::string_view::npos ? 0 : sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
      c.close_after = true;
      SimpleResponse(c, 400, "Bad Request", "bad request line\n");
      Flush(c);
      return;
    }
    std::string method(request_line.substr(0, sp1));
    std::string path(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
    bool http10 = request_line.substr(sp2 + 1) == "HTTP/1.0";
    size_t content_length = 0;
    bool chunked = false, conn_close = http10;
    size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t eol = head.find("\r\n", pos);
      if (eol == std::string_view::npos) eol = head.size();
      std::string_view line = head.substr(pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon), value = bench::Trim(line.substr(colon + 1));
      if (bench::StartsWithNoCase(name, "content-length") && name.size() == 14) {
        content_length = strtoull(std::string(value).c_str(), nullptr, 10);
      } else if (bench::StartsWithNoCase(name, "transfer-encoding") && name.size() == 17) {
        chunked = bench::StartsWithNoCase(value, "chunked");
      } else if (bench::StartsWithNoCase(name, "connection") && name.size() == 10) {
        if (bench::StartsWithNoCase(value, "close")) conn_close = true;
        if (bench::StartsWithNoCase(value, "keep-alive")) conn_close = false;
      }
    }
    if (chunked || content_length > (16u << 20)) {
      c.close_after = true;
      SimpleResponse(c, chunked ? 411 : 413, chunked ? "Length Required" : "Payload Too Large", "unsupported body\n");
      Flush(c);
      return;
    }
    size_t total = head_end + 4 + content_length;
    if (c.in.size() < total) return;  // wait for the body
    std::string body = c.in.substr(head_end + 4, content_length);
    c.in.erase(0, total);
    c.served++;
    if (g_config.max_requests && c.served >= g_config.max_requests) conn_close = true;
    c.close_after = false;

    if (method == "GET" && (path == "/healthz" || path == "/v1/healthz")) {
      c.close_after = conn_close;
      SimpleResponse(c, 200, "OK", "ok\n");
      if (!Flush(c)) return;
      continue;
    }
    if (method != "POST" || path.size() < 17 || path.compare(path.size() - 17, 17, "/chat/completions") != 0) {
      c.close_after = conn_close;
      SimpleResponse(c, 404, "Not Found", "not found\n");
      if (!Flush(c)) return;
      continue;
    }
    ParseModel(body, c);
    c.out.append(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Transfer-Encoding: chunked\r\n");
    c.out.append(conn_close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
    c.streaming = true;
    c.next = 0;
    const bool burst = c.delay_ms == 0;
    // First token goes out at once; token i at start + i*D.
    while (c.next < c.tokens && (burst || c.next == 0)) AppendToken(c, c.next++);
    if (c.next >= c.tokens) {
      // Close only after the whole (last) stream is written.
      bool close = conn_close;
      AppendEnd(c);
      c.streaming = false;
      g_streams++;
      c.close_after = close;
      if (!Flush(c)) return;
      continue;
    }
    c.close_after = false;
    c.close_when_done = conn_close;
    if (!Flush(c)) return;
    g_timers[c.delay_ms].push_back(Timer{NowNs() + static_cast<int64_t>(c.delay_ms) * 1000000, c.fd, c.generation});
    return;
  }
}

void OnTimer(const Timer& t) {
  if (t.fd < 0 || static_cast<size_t>(t.fd) >= g_conns.size()) return;
  Conn* c = g_conns[static_cast<size_t>(t.fd)].get();
  if (c == nullptr || c->fd < 0 || c->generation != t.generation || !c->streaming) return;
  AppendToken(*c, c->next++);
  if (c->next >= c->tokens) {
    c->close_after = c->close_when_done;
    FinishStream(*c);
    return;
  }
  if (!Flush(*c)) return;
  g_timers[c->delay_ms].push_back(Timer{t.deadline + static_cast<int64_t>(c->delay_ms) * 1000000, c->fd, c->generation});
}

int Listen() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g_config.port));
  if (inet_pton(AF_INET, g_config.host.c_str(), &addr.sin_addr) != 1) {
    fprintf(stderr, "mock_upstream: bad --host %s\n", g_config.host.c_str());
    exit(2);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 4096) != 0) {
    fprintf(stderr, "mock_upstream: cannot listen on %s:%d: %s\n", g_config.host.c_str(), g_config.port,
            strerror(errno));
    exit(1);
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  g_config.port = ntohs(addr.sin_port);
  return fd;
}

void Usage() {
  fprintf(stderr,
          "usage: mock_upstream [--host 127.0.0.1] [--port 0] [--tokens N] [--delay-ms D] [--max-requests K]\n"
          "  A request model \"bench-<N>x<D>\" overrides N and D for that stream.\n");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") g_config.host = next();
    else if (a == "--port") g_config.port = atoi(next().c_str());
    else if (a == "--tokens") g_config.tokens = atoi(next().c_str());
    else if (a == "--delay-ms") g_config.delay_ms = atoi(next().c_str());
    else if (a == "--max-requests") g_config.max_requests = strtoull(next().c_str(), nullptr, 10);
    else {
      Usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  long fd_limit = bench::RaiseFdLimit();
  int listen_fd = Listen();
  g_epoll = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = listen_fd;
  epoll_ctl(g_epoll, EPOLL_CTL_ADD, listen_fd, &lev);
  printf("listening on http://%s:%d\n", g_config.host.c_str(), g_config.port);
  fflush(stdout);
  fprintf(stderr, "mock_upstream: fd limit %ld, default %d tokens x %d ms\n", fd_limit, g_config.tokens,
          g_config.delay_ms);

  std::vector<epoll_event> events(1024);
  char buf[65536];
  while (true) {
    // Fire due timers (each queue is sorted by deadline).
    int64_t now = NowNs();
    int64_t next_deadline = -1;
    for (auto& [delay, queue] : g_timers) {
      // Bound the work per pass so sockets are serviced too.
      size_t budget = 20000;
      while (!queue.empty() && queue.front().deadline <= now && budget-- > 0) {
        Timer t = queue.front();
        queue.pop_front();
        OnTimer(t);
      }
      if (!queue.empty() && (next_deadline < 0 || queue.front().deadline < next_deadline))
        next_deadline = queue.front().deadline;
    }
    timespec timeout{1, 0};
    if (next_deadline >= 0) {
      int64_t wait = next_deadline - NowNs();
      if (wait < 0) wait = 0;
      timeout.tv_sec = wait / 1000000000LL;
      timeout.tv_nsec = wait % 1000000000LL;
    }
    int n = epoll_pwait2(g_epoll, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_pwait2");
      return 1;
    }
    for (int k = 0; k < n; ++k) {
      int fd = events[k].data.fd;
      uint32_t ev = events[k].events;
      if (fd == listen_fd) {
        for (int accepted = 0; accepted < 256; ++accepted) {
          int cfd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          int one = 1;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          if (static_cast<size_t>(cfd) >= g_conns.size()) g_conns.resize(static_cast<size_t>(cfd) + 1024);
          auto& slot = g_conns[static_cast<size_t>(cfd)];
          uint64_t gen = ++g_generation;
          slot = std::make_unique<Conn>();
          slot->fd = cfd;
          slot->generation = gen;
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.fd = cfd;
          epoll_ctl(g_epoll, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      Conn* c = static_cast<size_t>(fd) < g_conns.size() ? g_conns[static_cast<size_t>(fd)].get() : nullptr;
      if (c == nullptr || c->fd < 0) continue;
      if (ev & EPOLLOUT) {
        if (!Flush(*c)) continue;
      }
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        bool eof = false;
        while (true) {
          ssize_t r = recv(fd, buf, sizeof(buf), 0);
          if (r > 0) {
            c->in.append(buf, static_cast<size_t>(r));
            if (c->in.size() > (32u << 20)) {
              eof = true;
              break;
            }
            if (static_cast<size_t>(r) < sizeof(buf)) break;
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          eof = true;  // 0 (peer closed) or error
          break;
        }
        if (eof) {
          CloseConn(*c);
          continue;
        }
        ProcessInput(*c);
      }
    }
  }
}
