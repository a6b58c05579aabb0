// The curl driver's side of curl's callbacks (curl_driver.h): the sockets
// curl asks it to watch, on the loop's epoll sets, and the one loop timer
// that stands for every shard's timeout.
#include <sys/epoll.h>

#include <algorithm>
#include <chrono>

#include "llm/curl_driver.h"

namespace flowrun {

using Clock = EventLoop::Clock;

int CurlDriver::TimerThunk(CURLM*, long timeout_ms, void* shard_data) {
  auto* shard = static_cast<DriverShard*>(shard_data);
  if (timeout_ms < 0) {
    shard->deadline.reset();
    return 0;
  }
  const Clock::time_point due = Clock::now() + std::chrono::milliseconds(timeout_ms);
  shard->deadline = due;
  shard->driver->ArmCurlTimer(due);
  return 0;
}

// One loop timer for the earliest deadline of all shards. A deadline that
// moves later leaves the timer as it is (it fires early, harmlessly), so
// curl's frequent timer updates cost no heap entries.
void CurlDriver::ArmCurlTimer(Clock::time_point due) {
  if (curl_timer_ != 0 && curl_timer_due_ <= due) return;
  loop_.CancelTimer(curl_timer_);
  curl_timer_due_ = due;
  const auto delay = std::chrono::ceil<std::chrono::milliseconds>(due - Clock::now());
  curl_timer_ = loop_.After(std::max(delay, std::chrono::milliseconds(0)), [this] {
    curl_timer_ = 0;
    OnCurlTimer();
  });
}

void CurlDriver::OnCurlTimer() {
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < shard_count_; ++i) {
    DriverShard& shard = shards_[i];
    if (shard.deadline && *shard.deadline <= now) {
      shard.deadline.reset();
      int running = 0;
      curl_multi_socket_action(shard.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
  }
  std::optional<Clock::time_point> next;
  for (size_t i = 0; i < shard_count_; ++i) {
    const auto& deadline = shards_[i].deadline;
    if (deadline && (!next || *deadline < *next)) next = deadline;
  }
  if (next) ArmCurlTimer(*next);
}

int CurlDriver::SocketThunk(CURL* easy, curl_socket_t fd, int what, void* shard_data, void* socket_data) {
  auto* shard = static_cast<DriverShard*>(shard_data);
  shard->driver->OnSocket(*shard, easy, fd, what, static_cast<DriverSocket*>(socket_data));
  return 0;
}

void CurlDriver::OnSocket(DriverShard& shard, CURL* easy, curl_socket_t fd, int what, DriverSocket* socket) {
  if (what == CURL_POLL_REMOVE) {
    if (socket != nullptr) {
      curl_multi_assign(shard.multi, fd, nullptr);
      Retire(socket);
    }
    return;
  }
  if (socket == nullptr) {
    // A socket we still hold under this number was closed without a
    // REMOVE: its watch is stale. Keep the object (curl may still name it).
    if (auto found = sockets_.find(fd); found != sockets_.end()) {
      DriverSocket* stale = found->second;
      if (stale->watched) loop_.Unwatch(fd);
      Bind(stale, nullptr);
      stale->fd = -1;
      stale->watched = false;
      orphans_.push_back(stale);
      sockets_.erase(found);
    }
    socket = new DriverSocket;
    socket->fd = fd;
    socket->shard = &shard;
    sockets_.emplace(fd, socket);
    curl_multi_assign(shard.multi, fd, socket);
  }
  if (socket->fd < 0) return;  // an orphan curl still names: its number went to a newer socket
  socket->events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) socket->events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) socket->events |= EPOLLOUT;
  void* owner = nullptr;
  if (easy != nullptr) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &owner);
  auto* transfer = static_cast<LoopTransfer*>(owner);
  if (transfer != nullptr && transfer->slot_.driver == this && transfer->slot_.state == LoopTransfer::State::kRunning) {
    Bind(socket, transfer);
  }
  Register(socket);
}

// Keeps socket->transfer and transfer->upstream pointing at each other
// only: a transfer whose socket changes (another address tried, a new
// connection) leaves no socket pointing at it once it is done.
void CurlDriver::Bind(DriverSocket* socket, LoopTransfer* transfer) {
  if (socket->transfer == transfer) return;
  if (socket->transfer != nullptr && socket->transfer->slot_.upstream == socket) {
    socket->transfer->slot_.upstream = nullptr;
  }
  socket->transfer = transfer;
  if (transfer == nullptr) return;
  DriverSocket* previous = transfer->slot_.upstream;
  if (previous != nullptr && previous->transfer == transfer) previous->transfer = nullptr;
  transfer->slot_.upstream = socket;
}

// (Re)registers what curl wants to know of the socket, in the priority set
// while its transfer still waits for its first data.
void CurlDriver::Register(DriverSocket* socket) {
  if (socket->fd < 0 || socket->events == 0) return;
  if (!socket->watched) {
    socket->watched = loop_.Watch(socket->fd, socket->events, [this, socket](uint32_t events) { OnReady(socket, events); });
    socket->priority = false;
    if (!socket->watched) return;
  } else {
    loop_.Modify(socket->fd, socket->events);
  }
  const bool waiting = socket->transfer != nullptr && !socket->transfer->slot_.got_data;
  if (socket->priority != waiting && loop_.SetPriority(socket->fd, waiting)) socket->priority = waiting;
}

void CurlDriver::Retire(DriverSocket* socket) {
  Bind(socket, nullptr);
  if (socket->fd < 0) {
    std::erase(orphans_, socket);
  } else {
    if (socket->watched) loop_.Unwatch(socket->fd);
    sockets_.erase(socket->fd);
  }
  delete socket;  // its watch is gone: an event still in this batch is dropped
}

void CurlDriver::OnReady(DriverSocket* socket, uint32_t events) {
  int flags = 0;
  if ((events & EPOLLIN) != 0) flags |= CURL_CSELECT_IN;
  if ((events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) flags |= CURL_CSELECT_ERR;
  int running = 0;
  // The socket may be retired inside: nothing of it is used after.
  curl_multi_socket_action(socket->shard->multi, socket->fd, flags, &running);
}

}  // namespace flowrun
