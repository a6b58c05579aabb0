// ConnectionLoop: the server's front end, one event-loop thread that
// accepts connections and reads each request's head and body without a
// worker, the way nginx does: a slow or idle connection costs a descriptor
// and a small buffer, never a thread. Framing is checked strictly as bytes
// arrive (request_head.h); a refused request gets its answer and the
// connection is closed. A complete request is handed over, with its
// connection, to a worker (RequestHandler); the worker hands the connection
// back when the response is written (Return), and it waits here for its
// next request. Deadlines: the whole head, the whole body, idle keep-alive.
// When descriptors run out, idle connections are closed first, and a
// reserve descriptor answers 503. Thread-safety: Return, BeginStop and the
// counters may be called from any thread; the rest runs on the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"
#include "core/status.h"
#include "server/request_head.h"

namespace flowrun {

struct FrontEndOptions {
  HeadLimits head;
  size_t max_body_bytes = 1 << 20;
  size_t max_body_memory = 64u << 20;  // request-body bytes held at once, all connections together
  std::chrono::milliseconds header_timeout{10000};  // the whole head, from its first byte (or the accept)
  std::chrono::milliseconds body_timeout{30000};    // the whole body, from the end of the head
  std::chrono::milliseconds idle_keep_alive{5000};  // between requests
  std::chrono::milliseconds linger{1000};           // reading (and dropping) after a refusal, before close
  int max_requests_per_connection = 1000;
};

// Request-body bytes held by all connections; shared with workers, which
// release a body's share when they are done with it. Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  bool Reserve(size_t bytes);
  void Release(size_t bytes) { used_.fetch_sub(bytes); }
  size_t limit() const { return limit_; }
  size_t used() const { return used_.load(); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// A client connection. Owned by the loop while it waits or reads, by one
// worker while its request is served.
class ClientConnection {
 public:
  ~ClientConnection();
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

 private:
  friend class ConnectionLoop;
  enum class State { kIdle, kHead, kBody, kLinger };

  int fd_ = -1;
  std::string peer_;
  State state_ = State::kIdle;
  std::string in_;   // received, not yet consumed
  std::string out_;  // a refusal or "100 Continue" not yet sent
  bool close_after_out_ = false;
  HeadScanner scanner_;
  std::unique_ptr<BodyDecoder> decoder_;
  std::string body_;
  size_t reserved_ = 0;  // of the BodyBudget, for body_
  int served_ = 0;
  EventLoop::TimerId timer_ = 0;
  std::list<ClientConnection*>::iterator idle_position_;
  bool in_idle_list_ = false;
};

// A request whose head and body have arrived and passed the framing checks.
struct FramedRequest {
  RequestHead head;
  std::string body;
  bool last = false;  // the connection closes after this one (limit or stopping)
  // Releases the body's share of the budget when the request is destroyed.
  std::shared_ptr<void> reservation;
};

// What the front end refused and why, for the log line and the count.
struct RefusedRequest {
  std::string method;  // "" when the request line was not readable
  std::string target;
  std::string peer;
  Refusal refusal;
};

struct RefusalAnswer {
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers;
};

class ConnectionLoop {
 public:
  // On the loop thread: hand the request to a worker and return at once.
  using RequestHandler = std::function<void(std::unique_ptr<ClientConnection>, FramedRequest)>;
  // On the loop thread: log and count a refusal; returns the answer's body.
  using RefusalHandler = std::function<RefusalAnswer(const RefusedRequest&)>;

  ConnectionLoop(FrontEndOptions options, RequestHandler on_request, RefusalHandler on_refusal);
  ~ConnectionLoop();

  // Starts the loop thread accepting on `listen_fd` (non-blocking; owned from now on).
  Status Start(int listen_fd);
  // A worker is done with `connection`'s request: wait for the next one or close.
  void Return(std::unique_ptr<ClientConnection> connection, bool keep_alive);
  // Stops accepting and closes every connection not inside a request; those
  // handed to workers are closed when they come back.
  void BeginStop();
  // Ends the loop thread (after BeginStop and once workers are done).
  void Stop();

  size_t connections() const { return open_.load(); }         // all open client connections
  size_t in_requests() const { return in_requests_.load(); }  // those handed to workers
  BodyBudget& body_budget() { return budget_; }

 private:
  void OnListenReady();
  void Adopt(int fd);
  void OnEvents(ClientConnection* connection, uint32_t events);
  void OnReadable(ClientConnection* connection);
  void OnWritable(ClientConnection* connection);
  void Advance(ClientConnection* connection);
  void HeadDone(ClientConnection* connection);
  void BodyProgress(ClientConnection* connection);
  void Dispatch(ClientConnection* connection);
  void RefuseAndClose(ClientConnection* connection, Refusal refusal);
  void Send(ClientConnection* connection, std::string bytes);
  void StartLinger(ClientConnection* connection);
  void SetDeadline(ClientConnection* connection, std::chrono::milliseconds after);
  void OnDeadline(ClientConnection* connection);
  void BeginRequest(ClientConnection* connection, std::chrono::milliseconds first_byte_within);
  void MarkIdle(ClientConnection* connection, bool idle);
  bool CloseOldestIdle();
  void Close(ClientConnection* connection);
  void ReleaseBody(ClientConnection* connection);
  void AnswerWithReserve();
  void CloseAllOutsideRequests();

  FrontEndOptions options_;
  RequestHandler on_request_;
  RefusalHandler on_refusal_;
  EventLoop loop_;
  std::thread thread_;
  int listen_fd_ = -1;
  int reserve_fd_ = -1;  // held so that a refusal can be sent when descriptors run out
  bool stopping_ = false;  // loop thread
  std::unordered_map<ClientConnection*, std::unique_ptr<ClientConnection>> owned_;
  std::list<ClientConnection*> idle_;  // idle keep-alive connections, oldest first
  BodyBudget budget_;
  std::atomic<size_t> open_{0};
  std::atomic<size_t> in_requests_{0};
  std::mutex stop_mutex_;
  bool stopped_ = false;  // guarded by stop_mutex_: Return() after Stop() closes at once
};

}  // namespace flowrun
