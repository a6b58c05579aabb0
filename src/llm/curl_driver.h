// CurlDriver: curl's multi-socket API bound to one EventLoop (internal to
// llm/; nothing outside llm/ includes this header). One driver per loop,
// created on first use on that loop's thread and destroyed with the loop.
// Transfers start and end on the loop; their callbacks (deltas, and so the
// consumer's writes) run there; one epoll_wait serves every ready stream of
// the loop, so a token costs no thread wake-up of its own.
//
// What it keeps from the upstream loops it replaces: up to 16 multi handles
// per loop (kShards, made as the load grows) so that libcurl's walks over a
// multi's connections stay short; sockets of transfers still waiting for their first data in the
// loop's priority set (served after every batch: under load, time to first
// token is what a user notices); one AfterReads() per transfer per batch
// (its deltas, then one flush hint); a 100 ms tick for timeouts; pausing a
// transfer for a lagging consumer (the write callback returns
// CURL_WRITEFUNC_PAUSE) and Resume() once it caught up. Upstream
// connections stay alive in the shards' caches between transfers.
//
// Thread-safety: none; everything, For() included, on the loop's thread.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/event_loop.h"

namespace flowrun {

class CurlDriver;
class LoopTransfer;

// One multi handle with its connection cache and curl's timer for it.
struct DriverShard {
  CurlDriver* driver = nullptr;
  CURLM* multi = nullptr;
  size_t transfers = 0;  // added and not yet removed
  std::optional<EventLoop::Clock::time_point> deadline;
};

// A socket curl asked us to watch.
struct DriverSocket {
  int fd = -1;  // -1: superseded (an orphan)
  DriverShard* shard = nullptr;
  LoopTransfer* transfer = nullptr;  // the transfer reading it, if known
  uint32_t events = 0;
  bool watched = false;
  bool priority = false;
};

// One transfer as the driver sees it. Its methods run on the loop thread.
class LoopTransfer {
 public:
  virtual ~LoopTransfer() = default;

  // Everything that was ready in this batch went to the write callback
  // (called once per batch in which the write callback called NoteRead).
  virtual void AfterReads() = 0;
  // Asked every tick (100 ms): true ends the transfer. With full_check
  // (timeouts) while the transfer is quiet, and every 10th tick while it
  // reads; otherwise only what is cheap to know.
  virtual bool ShouldStop(bool full_check) = 0;
  // The transfer is over and out of the driver: curl's result, or
  // CURLE_ABORTED_BY_CALLBACK when ShouldStop or Abort ended it. Runs at
  // the end of a loop iteration, never inside Start, Abort or a curl
  // callback; the transfer may be destroyed inside it.
  virtual void Done(CURLcode result) = 0;

 private:
  friend class CurlDriver;
  enum class State : uint8_t { kIdle, kStarting, kRunning, kFinished };
  struct Slot {
    CurlDriver* driver = nullptr;
    CURL* easy = nullptr;
    DriverShard* shard = nullptr;
    DriverSocket* upstream = nullptr;  // the socket it reads, once curl said
    size_t index = 0;                  // in CurlDriver::active_
    State state = State::kIdle;
    CURLcode result = CURLE_OK;
    bool got_data = false;  // the upstream has sent body bytes
    bool read_since_tick = false;
    uint8_t ticks_since_full_check = 0;
    // In the driver's queues for the end of the iteration.
    bool touched = false;
    bool abort_queued = false;
    bool resume_queued = false;
  };
  Slot slot_;
};

class CurlDriver final : public EventLoop::Attachment {
 public:
  // The driver of `loop`, created on first use; null when curl cannot make
  // its multi handles (out of memory). Loop thread only.
  static CurlDriver* For(EventLoop& loop);

  explicit CurlDriver(EventLoop& loop);
  ~CurlDriver() override;
  CurlDriver(const CurlDriver&) = delete;
  CurlDriver& operator=(const CurlDriver&) = delete;

  // Runs `easy` (options set; the driver owns CURLOPT_PRIVATE) until it
  // ends; then transfer.Done(). Both must stay alive until then. The handle
  // joins a multi handle at the end of this iteration.
  void Start(CURL* easy, LoopTransfer& transfer);
  // Ends a transfer that has not had its Done() yet (an unfinished one
  // closes its connection); Done(CURLE_ABORTED_BY_CALLBACK) follows at the
  // end of this iteration. Safe anywhere on the loop: a curl callback, a
  // CancelScope's OnCancel, a timer.
  void Abort(LoopTransfer& transfer);
  // From the transfer's write callback: body bytes arrived. Ends the
  // first-data priority of its socket and asks for AfterReads().
  void NoteRead(LoopTransfer& transfer);
  // Un-pauses a transfer whose write callback returned
  // CURL_WRITEFUNC_PAUSE, at the end of this iteration (never inside a curl
  // callback). curl may hand over what it kept at once.
  void Resume(LoopTransfer& transfer);

  // An easy handle with default options (reused: connections live in the
  // multi handles, not in easy handles); null when curl cannot make one.
  CURL* TakeEasy();
  void GiveBack(CURL* easy);

  // Transfers started and not yet done.
  size_t transfers() const { return active_.size() + starting_.size(); }
  // Multi handles made so far (1 to 16).
  size_t shards() const { return shard_count_; }
  // For tests: sockets now in the loop's priority set (their transfer waits
  // for its first data), and whether every socket bound to a transfer is
  // bound to a running one that reads it (none to a finished transfer).
  size_t priority_sockets() const;
  bool BindingsConsistent() const;
  bool ok() const { return ok_; }

 private:
  static int SocketThunk(CURL* easy, curl_socket_t fd, int what, void* shard, void* socket_data);
  static int TimerThunk(CURLM* multi, long timeout_ms, void* shard);
  bool AddShard();
  void OnSocket(DriverShard& shard, CURL* easy, curl_socket_t fd, int what, DriverSocket* socket);
  void OnReady(DriverSocket* socket, uint32_t events);
  void Register(DriverSocket* socket);
  void Retire(DriverSocket* socket);
  void Bind(DriverSocket* socket, LoopTransfer* transfer);
  void ArmCurlTimer(EventLoop::Clock::time_point due);
  void OnCurlTimer();
  void ArmTick();
  void Tick();
  void AfterBatch();
  void AddStarting();
  void Finish(LoopTransfer& transfer, CURLcode result);

  EventLoop& loop_;
  bool ok_ = false;
  std::unique_ptr<DriverShard[]> shards_;  // kShards, the first shard_count_ made
  size_t shard_count_ = 0;
  EventLoop::HookId hook_ = 0;
  EventLoop::TimerId curl_timer_ = 0;
  EventLoop::Clock::time_point curl_timer_due_;
  EventLoop::TimerId tick_timer_ = 0;
  std::vector<LoopTransfer*> active_;    // in a multi handle
  std::vector<LoopTransfer*> starting_;  // to add at the end of the iteration
  std::vector<LoopTransfer*> touched_;
  std::vector<LoopTransfer*> aborts_;
  std::vector<LoopTransfer*> resumes_;
  std::vector<LoopTransfer*> completed_;
  std::vector<LoopTransfer*> batch_;  // the queue being worked through (one at a time)
  std::unordered_map<int, DriverSocket*> sockets_;  // by descriptor: every socket curl told us of
  std::vector<DriverSocket*> orphans_;  // superseded while curl still knew them: freed on their REMOVE
  std::vector<CURL*> idle_easy_;
};

}  // namespace flowrun
