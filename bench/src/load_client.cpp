// load_client: holds C concurrent POST SSE streams against one URL with a
// single-threaded epoll loop, checks every stream and prints one JSON object
// of measurements on stdout.
//
// Formats (--format):
//   openai   `data: {..."delta":{"content":"t<i> "}...}` events, ending `data: [DONE]`
//   flowrun  `event: chunk` with data a JSON string, `event: error`, ending `event: done`
// Each chunk's text is expected to be a run of tokens "t0 t1 t2 ..." (what
// bench/mock_upstream sends); the client checks order and, with
// --expect-tokens, completeness of every stream. With --expect-text TEXT
// (flowrun's `mock` provider, which answers a fixed sentence) the whole
// text of every stream must equal TEXT instead; its tokens are its words.
//
// A refused stream (non-200) is retried after the response's Retry-After
// (capped by --max-retry-after), else after 10 ms, as a polite client would.
//
// Run length: --count N streams in total, or --duration S seconds of
// starting streams (after which in-flight streams get --drain S to end).
// Throughput counts completions inside [warmup, duration]; latency
// statistics cover streams started at or after --warmup.
//
// --pid NAME=PID (repeatable) samples /proc/PID (RSS, threads, CPU) every
// --sample-ms and reports peaks and CPU seconds used during the run, and the
// seconds its threads (and this client) waited for a CPU (run queue).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common.h"
#include "proc_sample.h"

namespace {

using bench::Histogram;
using bench::NowNs;
using bench::ProcSample;
using bench::RunQueueWaitS;
using bench::Sample;

enum class Format { kOpenAi, kFlowrun };

struct Options {
  std::string url;
  std::string host = "127.0.0.1";
  int port = 80;
  std::string path = "/";
  std::string body;
  Format format = Format::kFlowrun;
  int concurrency = 1;
  long count = 0;            // total streams (0: use duration)
  double duration_s = 10;    // when count == 0
  double warmup_s = 0;
  double ramp_s = 0;  // spread the first stream starts over this long
  double drain_s = 15;
  double stream_timeout_s = 60;
  double max_time_s = 0;  // hard cap on the whole run (0: duration + drain, or 4 stream timeouts)
  long expect_tokens = -1;
  bool has_expect_text = false;
  std::string expect_text;
  double max_retry_after_s = 5;
  bool keep_alive = true;
  int max_connecting = 256;
  int sample_ms = 100;
  std::string label;
  std::vector<std::pair<std::string, int>> pids;
};

Options g_opt;

// ---------------------------------------------------------------------------

struct Stats {
  Histogram ttfc, duration, gap;
  long started = 0, completed_ok = 0, completed_in_window = 0, measured = 0;
  long errors = 0;
  std::map<std::string, long> error_kinds;
  long lost_tokens = 0, out_of_order = 0, bad_tokens = 0, streams_incomplete = 0, extra_tokens = 0;
  long chunks = 0, tokens = 0;
  long connects = 0, reconnects = 0;
  long aborted_at_end = 0;
  // Streams past their 200 response head and not yet ended.
  long open = 0, open_peak = 0;
  double open_sum = 0;
  long open_samples = 0;
} g_stats;

void Error(const std::string& kind) {
  g_stats.errors++;
  g_stats.error_kinds[kind]++;
}

enum class State { kIdle, kQueued, kConnecting, kSending, kHeaders, kBody, kWaitRetry };

struct Conn {
  int index = 0;
  int fd = -1;
  State state = State::kIdle;
  std::string out;
  size_t out_off = 0;
  std::string in;  // unparsed bytes
  // response
  int status = 0;
  int retry_after_s = -1;  // Retry-After of a refusal, in seconds
  bool open = false;       // counted in g_stats.open
  bool chunked = false, has_length = false, server_close = false;
  long long remaining = 0;  // content-length left or current chunk left
  int chunk_phase = 0;      // 0: size line, 1: data, 2: CRLF after data, 3: trailers
  bool body_done = false;
  std::string error_body;
  // SSE
  std::string line;
  std::string event_name, data;
  bool has_data = false;
  // stream
  int64_t t_start = 0, t_first = 0, t_last = 0;
  bool measured = false;
  bool reused = false;  // this stream went out on a kept-alive connection
  long chunks = 0, tokens = 0, next_token = 0;
  bool got_done = false, got_error = false, order_error = false, bad_token = false;
  std::string pending_text;
  int64_t retry_at = 0;
};

std::vector<Conn> g_conns;
int g_epoll = -1;
sockaddr_in g_addr{};
int64_t g_t0 = 0, g_stop_starting = 0, g_hard_end = 0;
long g_to_start = 0;  // streams still allowed to start (count mode)
int g_connecting = 0;
std::deque<int> g_connect_queue;  // conns waiting for a connect slot
std::string g_request_head;

bool MayStart(int64_t now) {
  if (g_opt.count > 0) return g_to_start > 0;
  return now < g_stop_starting;
}

void Watch(Conn& c, uint32_t events, bool add) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = static_cast<uint32_t>(c.index);
  epoll_ctl(g_epoll, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
}

void CloseFd(Conn& c) {
  if (c.fd >= 0) {
    epoll_ctl(g_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
  }
  if (c.state == State::kConnecting) g_connecting--;
}

void ResetResponse(Conn& c) {
  c.status = 0;
  c.retry_after_s = -1;
  c.chunked = c.has_length = c.server_close = false;
  c.remaining = 0;
  c.chunk_phase = 0;
  c.body_done = false;
  c.error_body.clear();
  c.line.clear();
  c.event_name.clear();
  c.data.clear();
  c.has_data = false;
  c.chunks = c.tokens = c.next_token = 0;
  c.got_done = c.got_error = c.order_error = c.bad_token = false;
  c.pending_text.clear();
  c.t_first = c.t_last = 0;
}

void SendRequest(Conn& c, int64_t now);
void StartStream(Conn& c, int64_t now);

bool TrySend(Conn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Watch(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP, false);
      return true;
    }
    return false;
  }
  c.state = State::kHeaders;
  Watch(c, EPOLLIN | EPOLLRDHUP, false);
  return true;
}

void BeginConnect(Conn& c, int64_t now) {
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    Error("socket: " + std::string(strerror(errno)));
    c.state = State::kWaitRetry;
    c.retry_at = now + 100000000;
    return;
  }
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  g_stats.connects++;
  c.state = State::kConnecting;
  g_connecting++;
  int r = connect(c.fd, reinterpret_cast<sockaddr*>(&g_addr), sizeof(g_addr));
  if (r == 0 || errno == EINPROGRESS) {
    Watch(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP, true);
    return;
  }
  Error("connect: " + std::string(strerror(errno)));
  CloseFd(c);
  c.state = State::kWaitRetry;
  c.retry_at = now + 100000000;
}

// Starts the next stream on this slot (reusing its connection if kept alive).
void StartStream(Conn& c, int64_t now) {
  if (!MayStart(now)) {
    CloseFd(c);
    c.state = State::kIdle;
    return;
  }
  if (g_opt.count > 0) g_to_start--;
  g_stats.started++;
  ResetResponse(c);
  c.t_start = now;
  c.measured = (now - g_t0) >= static_cast<int64_t>(g_opt.warmup_s * 1e9);
  c.reused = c.fd >= 0;
  if (c.fd >= 0) {
    SendRequest(c, now);
    return;
  }
  if (g_connecting >= g_opt.max_connecting) {
    c.state = State::kQueued;
    g_connect_queue.push_back(c.index);
    return;
  }
  BeginConnect(c, now);
}

void SendRequest(Conn& c, int64_t) {
  c.out = g_request_head;
  c.out_off = 0;
  c.in.clear();
  c.state = State::kSending;
  if (!TrySend(c)) {
    Error("send failed");
    CloseFd(c);
    c.state = State::kWaitRetry;
    c.retry_at = NowNs() + 10000000;
  }
}

void PumpConnectQueue(int64_t now) {
  while (!g_connect_queue.empty() && g_connecting < g_opt.max_connecting) {
    Conn& c = g_conns[static_cast<size_t>(g_connect_queue.front())];
    g_connect_queue.pop_front();
    if (c.state == State::kQueued && c.fd < 0) BeginConnect(c, now);
  }
}

bool IsSpace(char ch) { return ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v'; }

long CountWords(std::string_view s) {
  long words = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (!IsSpace(s[i]) && (i == 0 || IsSpace(s[i - 1]))) words++;
  return words;
}

// --expect-text: the stream's whole text against the expected one. A prefix
// is a stream cut short (its missing words are lost tokens); anything else
// is malformed text.
void CheckText(Conn& c) {
  const std::string& want = g_opt.expect_text;
  const std::string& got = c.pending_text;
  if (got == want) {
    c.tokens = CountWords(want);
  } else if (want.compare(0, got.size(), got) == 0) {
    c.tokens = CountWords(got);
    // A word cut in the middle did not arrive.
    if (!got.empty() && !IsSpace(got.back()) && !IsSpace(want[got.size()])) c.tokens--;
  } else {
    c.bad_token = true;
    c.tokens = CountWords(got);
  }
  c.pending_text.clear();
}

void CloseOpen(Conn& c) {
  if (!c.open) return;
  c.open = false;
  g_stats.open--;
}

// Ends the current stream: records it and starts the next (or retries later).
void EndStream(Conn& c, int64_t now, bool transport_ok, const char* failure) {
  bool reusable = transport_ok && g_opt.keep_alive && !c.server_close && c.body_done;
  bool ok = transport_ok && c.status == 200 && c.got_done && !c.got_error;
  CloseOpen(c);
  if (c.status == 200) {
    // Completeness and order, for every 200 stream.
    if (g_opt.has_expect_text) {
      CheckText(c);
    } else if (!c.pending_text.empty()) {
      c.bad_token = true;  // text after the last token separator
    }
    if (g_opt.expect_tokens >= 0) {
      if (c.tokens < g_opt.expect_tokens) g_stats.lost_tokens += g_opt.expect_tokens - c.tokens;
      if (c.tokens > g_opt.expect_tokens) g_stats.extra_tokens += c.tokens - g_opt.expect_tokens;
      if (c.tokens != g_opt.expect_tokens) g_stats.streams_incomplete++;
    }
    if (c.order_error) g_stats.out_of_order++;
    if (c.bad_token) g_stats.bad_tokens++;
    g_stats.chunks += c.chunks;
    g_stats.tokens += c.tokens;
  }
  if (!ok) {
    if (failure) Error(failure);
    else if (c.status != 200 && c.status != 0) Error("http " + std::to_string(c.status));
    else if (c.got_error) Error("error event");
    else if (!c.got_done) Error("no done event");
  } else {
    g_stats.completed_ok++;
    double since = static_cast<double>(now - g_t0) / 1e9;
    if (g_opt.count > 0 || (since >= g_opt.warmup_s && since <= g_opt.duration_s)) g_stats.completed_in_window++;
    if (c.measured) {
      g_stats.measured++;
      g_stats.duration.Add(now - c.t_start);
      if (c.t_first) g_stats.ttfc.Add(c.t_first - c.t_start);
    }
  }
  if (!reusable) CloseFd(c);
  if (!ok && c.status != 200) {
    // Back off after refusals and failures: no busy loop on 503. A refusal
    // that says when to come back (flowrun's 503: Retry-After: 1) is obeyed.
    c.state = State::kWaitRetry;
    double wait_s = 0.01;
    if (c.retry_after_s >= 0) wait_s = std::min<double>(c.retry_after_s, g_opt.max_retry_after_s);
    c.retry_at = now + static_cast<int64_t>(wait_s * 1e9);
    return;
  }
  StartStream(c, now);
}

void OnText(Conn& c, const std::string& text, int64_t now) {
  c.chunks++;
  if (c.t_first == 0) c.t_first = now;
  else if (c.measured) g_stats.gap.Add(now - c.t_last);
  c.t_last = now;
  c.pending_text += text;
  if (g_opt.has_expect_text) {
    // Checked as a whole when the stream ends; a runaway stream is cut off.
    if (c.pending_text.size() > g_opt.expect_text.size() + 4096) c.bad_token = true;
    if (c.pending_text.size() > (1u << 20)) c.pending_text.resize(1u << 20);
    return;
  }
  size_t start = 0;
  while (true) {
    size_t sp = c.pending_text.find(' ', start);
    if (sp == std::string::npos) break;
    std::string_view tok(c.pending_text.data() + start, sp - start);
    start = sp + 1;
    if (tok.empty()) continue;
    if (tok.size() < 2 || tok[0] != 't') {
      c.bad_token = true;
      continue;
    }
    long idx = strtol(std::string(tok.substr(1)).c_str(), nullptr, 10);
    if (idx != c.next_token) c.order_error = true;
    c.next_token = idx + 1;
    c.tokens++;
  }
  c.pending_text.erase(0, start);
}

void DispatchEvent(Conn& c, int64_t now) {
  static thread_local std::string text;
  if (g_opt.format == Format::kFlowrun) {
    if (c.event_name == "chunk") {
      if (!bench::DecodeJsonString(c.data, 0, &text)) c.bad_token = true;
      else OnText(c, text, now);
    } else if (c.event_name == "done") {
      c.got_done = true;
    } else if (c.event_name == "error") {
      c.got_error = true;
    }
  } else {
    if (c.data == "[DONE]") {
      c.got_done = true;
    } else if (bench::FindJsonValue(c.data, "error") != std::string::npos) {
      c.got_error = true;
    } else {
      size_t at = bench::FindJsonValue(c.data, "content");
      if (at != std::string::npos && c.data[at] == '"' && bench::DecodeJsonString(c.data, at, &text) &&
          !text.empty()) {
        OnText(c, text, now);
      }
    }
  }
}

void FeedSse(Conn& c, const char* p, size_t n, int64_t now) {
  for (size_t i = 0; i < n;) {
    const char* nl = static_cast<const char*>(memchr(p + i, '\n', n - i));
    if (!nl) {
      c.line.append(p + i, n - i);
      return;
    }
    c.line.append(p + i, static_cast<size_t>(nl - (p + i)));
    i = static_cast<size_t>(nl - p) + 1;
    if (!c.line.empty() && c.line.back() == '\r') c.line.pop_back();
    if (c.line.empty()) {
      if (c.has_data || !c.event_name.empty()) DispatchEvent(c, now);
      c.event_name.clear();
      c.data.clear();
      c.has_data = false;
    } else if (c.line[0] != ':') {
      size_t colon = c.line.find(':');
      std::string_view field = std::string_view(c.line).substr(0, colon);
      std::string_view value = colon == std::string::npos ? std::string_view() : std::string_view(c.line).substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
      if (field == "data") {
        if (c.has_data) c.data.push_back('\n');
        c.data.append(value);
        c.has_data = true;
      } else if (field == "event") {
        c.event_name.assign(value);
      }
    }
    c.line.clear();
  }
}

void FeedBody(Conn& c, const char* p, size_t n, int64_t now) {
  if (c.status != 200) {
    if (c.error_body.size() < 4096) c.error_body.append(p, std::min(n, 4096 - c.error_body.size()));
    return;
  }
  FeedSse(c, p, n, now);
}

// Consumes c.in; returns false on a protocol error.
bool ParseInput(Conn& c, int64_t now) {
  size_t pos = 0;
  if (c.state == State::kHeaders || c.state == State::kSending) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return c.in.size() < 65536;
    std::string_view head(c.in.data(), end);
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return false;
    c.status = atoi(std::string(head.substr(9, 3)).c_str());
    bool http10 = head.substr(0, 8) == "HTTP/1.0";
    c.server_close = http10;
    size_t lp = head.find("\r\n");
    while (lp != std::string_view::npos && lp < head.size()) {
      size_t s = lp + 2;
      size_t e = head.find("\r\n", s);
      if (e == std::string_view::npos) e = head.size();
      std::string_view line = head.substr(s, e - s);
      lp = e;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon), value = bench::Trim(line.substr(colon + 1));
      if (name.size() == 17 && bench::StartsWithNoCase(name, "transfer-encoding"))
        c.chunked = bench::StartsWithNoCase(value, "chunked");
      else if (name.size() == 14 && bench::StartsWithNoCase(name, "content-length")) {
        c.has_length = true;
        c.remaining = atoll(std::string(value).c_str());
      } else if (name.size() == 10 && bench::StartsWithNoCase(name, "connection")) {
        if (bench::StartsWithNoCase(value, "close")) c.server_close = true;
      } else if (name.size() == 11 && bench::StartsWithNoCase(name, "retry-after") && !value.empty() &&
                 isdigit(static_cast<unsigned char>(value[0]))) {
        c.retry_after_s = atoi(std::string(value).c_str());
      }
      if (e >= head.size()) break;
    }
    if (!c.chunked && !c.has_length) c.server_close = true;  // read to EOF
    pos = end + 4;
    c.state = State::kBody;
    if (c.status == 200) {
      c.open = true;
      g_stats.open++;
      g_stats.open_peak = std::max(g_stats.open_peak, g_stats.open);
    }
    if (c.has_length && c.remaining == 0) c.body_done = true;
  }
  while (c.state == State::kBody && !c.body_done && pos < c.in.size()) {
    if (c.chunked) {
      if (c.chunk_phase == 0 || c.chunk_phase == 2 || c.chunk_phase == 3) {
        size_t eol = c.in.find("\r\n", pos);
        if (eol == std::string::npos) break;
        std::string_view line(c.in.data() + pos, eol - pos);
        pos = eol + 2;
        if (c.chunk_phase == 0) {
          c.remaining = strtoll(std::string(line).c_str(), nullptr, 16);
          c.chunk_phase = c.remaining == 0 ? 3 : 1;
        } else if (c.chunk_phase == 2) {
          if (!line.empty()) return false;
          c.chunk_phase = 0;
        } else if (line.empty()) {
          c.body_done = true;
        }
      } else {
        size_t take = std::min<size_t>(static_cast<size_t>(c.remaining), c.in.size() - pos);
        FeedBody(c, c.in.data() + pos, take, now);
        pos += take;
        c.remaining -= static_cast<long long>(take);
        if (c.remaining == 0) c.chunk_phase = 2;
      }
    } else {
      size_t take = c.in.size() - pos;
      if (c.has_length) take = std::min<size_t>(take, static_cast<size_t>(c.remaining));
      FeedBody(c, c.in.data() + pos, take, now);
      pos += take;
      if (c.has_length) {
        c.remaining -= static_cast<long long>(take);
        if (c.remaining == 0) c.body_done = true;
      }
    }
  }
  c.in.erase(0, pos);
  return true;
}

void OnEvent(Conn& c, uint32_t events, int64_t now) {
  if (c.state == State::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      Error(std::string("connect: ") + strerror(err ? err : ECONNREFUSED));
      CloseFd(c);
      c.state = State::kWaitRetry;
      c.retry_at = now + 100000000;
      return;
    }
    g_connecting--;
    c.state = State::kSending;  // counted out of connecting
    SendRequest(c, now);
    return;
  }
  if (c.state == State::kSending && (events & EPOLLOUT)) {
    if (!TrySend(c)) {
      EndStream(c, now, false, "send failed");
      return;
    }
  }
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  char buf[65536];
  bool eof = false;
  while (true) {
    ssize_t r = recv(c.fd, buf, sizeof(buf), 0);
    if (r > 0) {
      c.in.append(buf, static_cast<size_t>(r));
      if (static_cast<size_t>(r) < sizeof(buf)) break;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    eof = true;
    break;
  }
  now = NowNs();
  if (!c.in.empty() && !ParseInput(c, now)) {
    EndStream(c, now, false, "protocol error");
    return;
  }
  if (c.state == State::kBody && !c.chunked && !c.has_length && eof) c.body_done = true;
  if (c.state == State::kBody && c.body_done) {
    if (eof) c.server_close = true;
    EndStream(c, now, true, nullptr);
    return;
  }
  if (eof) {
    const char* what = c.state == State::kBody ? "connection closed mid-stream" : "connection closed before response";
    // A kept-alive connection the server closed while idle (a race every
    // HTTP/1.1 client retries): resend the same stream on a new connection.
    if (c.reused && (c.state == State::kHeaders || c.state == State::kSending) && c.in.empty() && c.status == 0) {
      CloseFd(c);
      g_stats.reconnects++;
      g_stats.started--;
      if (g_opt.count > 0) g_to_start++;
      StartStream(c, now);
      return;
    }
    EndStream(c, now, false, what);
  }
}

bool ParseUrl(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  size_t slash = rest.find('/');
  std::string hostport = slash == std::string::npos ? rest : rest.substr(0, slash);
  g_opt.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  g_opt.host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  g_opt.port = colon == std::string::npos ? 80 : atoi(hostport.substr(colon + 1).c_str());
  if (g_opt.host == "localhost") g_opt.host = "127.0.0.1";
  g_addr.sin_family = AF_INET;
  g_addr.sin_port = htons(static_cast<uint16_t>(g_opt.port));
  return inet_pton(AF_INET, g_opt.host.c_str(), &g_addr.sin_addr) == 1;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char b[8];
      snprintf(b, sizeof(b), "\\u%04x", ch);
      out += b;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

void HistJson(std::ostringstream& o, const char* name, const Histogram& h) {
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  char b[512];
  snprintf(b, sizeof(b),
           "\"%s\":{\"count\":%llu,\"min_ms\":%.4f,\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,"
           "\"p999_ms\":%.4f,\"max_ms\":%.4f,\"mean_ms\":%.4f}",
           name, static_cast<unsigned long long>(h.count()), ms(h.min()), ms(h.Quantile(0.5)), ms(h.Quantile(0.9)),
           ms(h.Quantile(0.99)), ms(h.Quantile(0.999)), ms(h.max()), h.mean() / 1e6);
  o << b;
}

void Usage() {
  fprintf(stderr,
          "usage: load_client --url http://127.0.0.1:PORT/path --body JSON [--format openai|flowrun]\n"
          "  [-c|--concurrency C] [--count N | --duration S] [--warmup S] [--ramp S] [--drain S] [--stream-timeout S] [--max-time S]\n"
          "  [--expect-tokens N | --expect-text TEXT] [--max-retry-after S] [--no-keep-alive] [--max-connecting K] [--pid NAME=PID]... [--sample-ms MS]\n"
          "  [--label TEXT]\n");
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
    if (a == "--url") g_opt.url = next();
    else if (a == "--body") g_opt.body = next();
    else if (a == "--body-file") {
      std::ifstream f(next());
      std::stringstream ss;
      ss << f.rdbuf();
      g_opt.body = ss.str();
    } else if (a == "--format") {
      std::string f = next();
      if (f == "openai") g_opt.format = Format::kOpenAi;
      else if (f == "flowrun") g_opt.format = Format::kFlowrun;
      else {
        Usage();
        return 2;
      }
    } else if (a == "-c" || a == "--concurrency") g_opt.concurrency = atoi(next().c_str());
    else if (a == "--count") g_opt.count = atol(next().c_str());
    else if (a == "--duration") g_opt.duration_s = atof(next().c_str());
    else if (a == "--warmup") g_opt.warmup_s = atof(next().c_str());
    else if (a == "--ramp") g_opt.ramp_s = atof(next().c_str());
    else if (a == "--drain") g_opt.drain_s = atof(next().c_str());
    else if (a == "--stream-timeout") g_opt.stream_timeout_s = atof(next().c_str());
    else if (a == "--max-time") g_opt.max_time_s = atof(next().c_str());
    else if (a == "--expect-tokens") g_opt.expect_tokens = atol(next().c_str());
    else if (a == "--expect-text") {
      g_opt.expect_text = next();
      g_opt.has_expect_text = true;
    } else if (a == "--max-retry-after") g_opt.max_retry_after_s = std::max(0.0, atof(next().c_str()));
    else if (a == "--no-keep-alive") g_opt.keep_alive = false;
    else if (a == "--max-connecting") g_opt.max_connecting = std::max(1, atoi(next().c_str()));
    else if (a == "--sample-ms") g_opt.sample_ms = std::max(10, atoi(next().c_str()));
    else if (a == "--label") g_opt.label = next();
    else if (a == "--pid") {
      std::string v = next();
      size_t eq = v.find('=');
      if (eq == std::string::npos) g_opt.pids.emplace_back("pid" + v, atoi(v.c_str()));
      else g_opt.pids.emplace_back(v.substr(0, eq), atoi(v.substr(eq + 1).c_str()));
    } else {
      Usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (g_opt.url.empty() || !ParseUrl(g_opt.url) || g_opt.port <= 0 || g_opt.port > 65535 || g_opt.concurrency < 1) {
    Usage();
    return 2;
  }
  if (g_opt.has_expect_text && g_opt.expect_tokens < 0) g_opt.expect_tokens = CountWords(g_opt.expect_text);
  signal(SIGPIPE, SIG_IGN);
  long fd_limit = bench::RaiseFdLimit();
  if (fd_limit > 0 && g_opt.concurrency + 64 > fd_limit) {
    fprintf(stderr, "load_client: concurrency %d needs more descriptors than the open-file limit %ld (ulimit -Hn); split it over processes\n",
            g_opt.concurrency, fd_limit);
    return 2;
  }
  {
    std::ostringstream h;
    h << "POST " << g_opt.path << " HTTP/1.1\r\nHost: " << g_opt.host << ":" << g_opt.port
      << "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: " << g_opt.body.size()
      << "\r\n" << (g_opt.keep_alive ? "" : "Connection: close\r\n") << "\r\n"
      << g_opt.body;
    g_request_head = h.str();
  }

  std::vector<ProcSample> procs;
  for (auto& [name, pid] : g_opt.pids) procs.push_back(ProcSample{name, pid});

  g_epoll = epoll_create1(EPOLL_CLOEXEC);
  g_conns.resize(static_cast<size_t>(g_opt.concurrency));
  rusage ru0{};
  getrusage(RUSAGE_SELF, &ru0);
  const double runq0 = RunQueueWaitS(getpid());
  g_t0 = NowNs();
  Sample(procs, true, false);
  const bool count_mode = g_opt.count > 0;
  g_to_start = g_opt.count;
  // Count mode has no planned end: bound it by the per-stream timeout.
  const double run_s = count_mode ? 1e9 : g_opt.duration_s;
  g_stop_starting = g_t0 + static_cast<int64_t>(run_s * 1e9);
  double hard_s = count_mode ? std::max(60.0, g_opt.stream_timeout_s * 4) : g_opt.duration_s + g_opt.drain_s;
  if (g_opt.max_time_s > 0) hard_s = std::min(hard_s, g_opt.max_time_s);
  g_hard_end = g_t0 + static_cast<int64_t>(hard_s * 1e9);
  for (int i = 0; i < g_opt.concurrency; ++i) {
    Conn& c = g_conns[static_cast<size_t>(i)];
    c.index = i;
    if (g_opt.ramp_s > 0 && i > 0) {
      // Desynchronise the slots so their streams do not run in lockstep.
      c.state = State::kWaitRetry;
      c.retry_at = g_t0 + static_cast<int64_t>(g_opt.ramp_s * 1e9 * i / g_opt.concurrency);
    } else {
      StartStream(c, g_t0);
    }
  }

  std::vector<epoll_event> events(4096);
  int64_t next_sample = g_t0 + static_cast<int64_t>(g_opt.sample_ms) * 1000000;
  int64_t next_sweep = g_t0 + 10000000;
  int64_t end_time = 0;
  int64_t next_busy_check = g_t0;
  bool timed_out = false;
  while (true) {
    int n = epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), 5);
    int64_t now = NowNs();
    for (int k = 0; k < n; ++k) {
      Conn& c = g_conns[events[k].data.u32];
      if (c.fd < 0) continue;
      OnEvent(c, events[k].events, now);
    }
    now = NowNs();
    PumpConnectQueue(now);
    if (now >= next_sweep) {
      next_sweep = now + 5000000;
      const int64_t timeout_ns = static_cast<int64_t>(g_opt.stream_timeout_s * 1e9);
      for (auto& c : g_conns) {
        if (c.state == State::kWaitRetry && now >= c.retry_at) {
          c.state = State::kIdle;
          StartStream(c, now);
        } else if ((c.state == State::kSending || c.state == State::kHeaders || c.state == State::kBody ||
                    c.state == State::kConnecting || c.state == State::kQueued) &&
                   now - c.t_start > timeout_ns) {
          EndStream(c, now, false, "stream timeout");
        }
      }
    }
    if (now >= next_sample) {
      Sample(procs, false, false);
      const double since = static_cast<double>(now - g_t0) / 1e9;
      if (count_mode || (since >= g_opt.warmup_s && since <= g_opt.duration_s)) {
        g_stats.open_sum += static_cast<double>(g_stats.open);
        g_stats.open_samples++;
      }
      next_sample = now + static_cast<int64_t>(g_opt.sample_ms) * 1000000;
    }
    if (now >= next_busy_check) {
      next_busy_check = now + 2000000;
      bool busy = false;
      for (auto& c : g_conns) {
        if (c.state == State::kWaitRetry ? MayStart(now) : c.state != State::kIdle) {
          busy = true;
          break;
        }
      }
      if (!busy) {
        end_time = now;
        break;
      }
    }
    if (now >= g_hard_end) {
      end_time = now;
      timed_out = true;
      g_to_start = 0;
      g_stop_starting = 0;
      for (auto& c : g_conns) {
        if (c.state != State::kIdle && c.state != State::kWaitRetry) {
          // Accounted like any failed stream: a 200 stream's missing tokens count as lost.
          g_stats.aborted_at_end++;
          const char* what = c.state == State::kBody                                   ? "unfinished: mid-stream"
                             : c.state == State::kHeaders || c.state == State::kSending ? "unfinished: no response yet"
                                                                                       : "unfinished: not connected";
          EndStream(c, now, false, what);
        }
        CloseFd(c);
        c.state = State::kIdle;
      }
      break;
    }
  }
  Sample(procs, false, true);
  rusage ru1{};
  getrusage(RUSAGE_SELF, &ru1);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  const double runq1 = RunQueueWaitS(getpid());
  double client_cpu = tv(ru1.ru_utime) + tv(ru1.ru_stime) - tv(ru0.ru_utime) - tv(ru0.ru_stime);
  double elapsed_s = static_cast<double>(end_time - g_t0) / 1e9;
  double window_s = count_mode ? elapsed_s : std::max(1e-9, std::min(elapsed_s, g_opt.duration_s) - g_opt.warmup_s);
  double streams_per_s = static_cast<double>(g_stats.completed_in_window) / window_s;

  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(4);
  o << "{\"label\":\"" << JsonEscape(g_opt.label) << "\",\"url\":\"" << JsonEscape(g_opt.url) << "\",\"format\":\""
    << (g_opt.format == Format::kOpenAi ? "openai" : "flowrun") << "\",\"concurrency\":" << g_opt.concurrency
    << ",\"count\":" << g_opt.count << ",\"duration_s\":" << (count_mode ? 0.0 : g_opt.duration_s)
    << ",\"warmup_s\":" << g_opt.warmup_s << ",\"elapsed_s\":" << elapsed_s << ",\"window_s\":" << window_s
    << ",\"timed_out\":" << (timed_out ? "true" : "false") << ",\"started\":" << g_stats.started
    << ",\"completed_ok\":" << g_stats.completed_ok << ",\"completed_in_window\":" << g_stats.completed_in_window
    << ",\"measured\":" << g_stats.measured << ",\"streams_per_s\":" << streams_per_s
    << ",\"errors\":" << g_stats.errors << ",\"error_kinds\":{";
  bool first = true;
  for (auto& [k, v] : g_stats.error_kinds) {
    o << (first ? "" : ",") << "\"" << JsonEscape(k) << "\":" << v;
    first = false;
  }
  o << "},\"expect_tokens\":" << g_opt.expect_tokens << ",\"tokens\":" << g_stats.tokens
    << ",\"chunks\":" << g_stats.chunks << ",\"lost_tokens\":" << g_stats.lost_tokens
    << ",\"extra_tokens\":" << g_stats.extra_tokens << ",\"streams_incomplete\":" << g_stats.streams_incomplete
    << ",\"streams_out_of_order\":" << g_stats.out_of_order << ",\"streams_bad_tokens\":" << g_stats.bad_tokens
    << ",\"connects\":" << g_stats.connects << ",\"reconnects\":" << g_stats.reconnects << ",\"aborted_at_end\":" << g_stats.aborted_at_end
    << ",\"client_cpu_s\":" << client_cpu
    << ",\"client_runq_wait_s\":" << (runq0 >= 0 && runq1 >= 0 ? runq1 - runq0 : -1.0) << ",\"fd_limit\":" << fd_limit << ",\"open_streams_peak\":" << g_stats.open_peak
    << ",\"open_streams_mean\":"
    << (g_stats.open_samples ? g_stats.open_sum / static_cast<double>(g_stats.open_samples) : 0.0) << ",";
  HistJson(o, "ttfc", g_stats.ttfc);
  o << ",";
  HistJson(o, "stream_duration", g_stats.duration);
  o << ",";
  HistJson(o, "inter_chunk_gap", g_stats.gap);
  o << ",\"processes\":{";
  first = true;
  for (auto& p : procs) {
    o << (first ? "" : ",") << "\"" << JsonEscape(p.name) << "\":{\"pid\":" << p.pid
      << ",\"alive_at_end\":" << (p.alive ? "true" : "false") << ",\"rss_start_kib\":" << p.rss_start_kib
      << ",\"rss_peak_kib\":" << p.rss_peak_kib << ",\"rss_end_kib\":" << p.rss_end_kib
      << ",\"threads_start\":" << p.threads_start << ",\"threads_peak\":" << p.threads_peak
      << ",\"cpu_s\":" << ((p.cpu_end_s >= 0 && p.cpu_start_s >= 0) ? p.cpu_end_s - p.cpu_start_s : -1.0)
      << ",\"runq_wait_s\":" << ((p.runq_end_s >= 0 && p.runq_start_s >= 0) ? p.runq_end_s - p.runq_start_s : -1.0)
      << "}";
    first = false;
  }
  o << "}}";
  printf("%s\n", o.str().c_str());
  fprintf(stderr,
          "load_client[%s]: c=%d %.1fs started=%ld ok=%ld rate=%.1f/s open peak=%ld errors=%ld lost=%ld ooo=%ld "
          "bad=%ld ttfc p50=%.3fms p99=%.3fms dur p50=%.1fms p99=%.1fms\n",
          g_opt.label.c_str(), g_opt.concurrency, elapsed_s, g_stats.started, g_stats.completed_ok, streams_per_s,
          g_stats.open_peak, g_stats.errors, g_stats.lost_tokens, g_stats.out_of_order, g_stats.bad_tokens,
          g_stats.ttfc.Quantile(0.5) / 1e6,
          g_stats.ttfc.Quantile(0.99) / 1e6, g_stats.duration.Quantile(0.5) / 1e6,
          g_stats.duration.Quantile(0.99) / 1e6);
  return 0;
}
