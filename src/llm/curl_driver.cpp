// The curl multi-socket driver of one EventLoop (curl_driver.h). Work that
// must not happen inside a curl callback (adding and removing handles,
// un-pausing, completions) is queued and done once per iteration, in the
// loop's after-batch hook: the flush hints of what the batch read come
// first, then transfers that ended, each reported exactly once.
#include "llm/curl_driver.h"

#include <sys/epoll.h>

#include <algorithm>
#include <chrono>

#include "llm/curl_handles.h"

namespace flowrun {

using Clock = EventLoop::Clock;

namespace {

// How often every transfer is asked whether it should stop (first-token and
// idle timeouts). Each tick touches every transfer's state: at 5000 streams,
// 50 ms ticks cost ~15 % of a loop, mostly cache misses; 100 ms is still
// fine-grained for timeouts measured in seconds.
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr int kFullCheckTicks = 10;

// Multi handles per loop, at most. libcurl 7.88 walks every connection of a
// multi handle's cache when a transfer is removed (and the host's
// connections when one starts): with 5000 streams on one multi handle that
// was a third of the loop's time. Spread over shards, each walk is that much
// shorter. A new shard is made when every shard has kShardTransfers.
constexpr size_t kShards = 16;
constexpr size_t kShardTransfers = 32;

// Easy handles kept for reuse once their transfer is over.
constexpr size_t kMaxIdleEasy = 256;

// After-batch passes before leftovers wait for the next iteration (a
// completion that starts a transfer that fails at once, and so on).
constexpr int kMaxPasses = 8;

const char kDriverKey = 0;

}  // namespace

// One multi handle with its connection cache and curl's timer for it.
struct DriverShard {
  CurlDriver* driver = nullptr;
  CURLM* multi = nullptr;
  size_t transfers = 0;  // added and not yet removed
  std::optional<Clock::time_point> deadline;
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

CurlDriver* CurlDriver::For(EventLoop& loop) {
  if (auto* found = loop.FindAttachment(&kDriverKey)) return static_cast<CurlDriver*>(found);
  auto driver = std::make_unique<CurlDriver>(loop);
  if (!driver->ok()) return nullptr;
  CurlDriver* raw = driver.get();
  loop.Attach(&kDriverKey, std::move(driver));
  return raw;
}

CurlDriver::CurlDriver(EventLoop& loop) : loop_(loop), shards_(new DriverShard[kShards]) {
  CurlHandles::InitialiseCurl();
  if (!AddShard()) return;
  hook_ = loop_.AddAfterBatch([this] { AfterBatch(); });
  ok_ = true;
}

// libcurl 7.88 gives every multi handle a wake-up socket pair (which the
// multi-socket API never uses): shards are made as the load needs them,
// so that an idle loop holds two of those descriptors, not 32.
bool CurlDriver::AddShard() {
  if (shard_count_ == kShards) return false;
  DriverShard& shard = shards_[shard_count_];
  shard.driver = this;
  shard.multi = curl_multi_init();
  if (shard.multi == nullptr) return false;
  curl_multi_setopt(shard.multi, CURLMOPT_SOCKETFUNCTION, &CurlDriver::SocketThunk);
  curl_multi_setopt(shard.multi, CURLMOPT_SOCKETDATA, &shard);
  curl_multi_setopt(shard.multi, CURLMOPT_TIMERFUNCTION, &CurlDriver::TimerThunk);
  curl_multi_setopt(shard.multi, CURLMOPT_TIMERDATA, &shard);
  ++shard_count_;
  return true;
}

CurlDriver::~CurlDriver() {
  if (hook_ != 0) loop_.RemoveAfterBatch(hook_);
  loop_.CancelTimer(curl_timer_);
  loop_.CancelTimer(tick_timer_);
  // Transfers still running get no Done(): the loop is going away.
  for (LoopTransfer* transfer : active_) {
    transfer->slot_.state = LoopTransfer::State::kFinished;
    curl_multi_remove_handle(transfer->slot_.shard->multi, transfer->slot_.easy);
  }
  for (size_t i = 0; i < shard_count_; ++i) curl_multi_cleanup(shards_[i].multi);  // may retire sockets
  for (auto& [fd, socket] : sockets_) {
    if (socket->watched) loop_.Unwatch(fd);
    delete socket;
  }
  for (DriverSocket* orphan : orphans_) delete orphan;
  for (CURL* easy : idle_easy_) curl_easy_cleanup(easy);
}

CURL* CurlDriver::TakeEasy() {
  if (idle_easy_.empty()) return curl_easy_init();
  CURL* easy = idle_easy_.back();
  idle_easy_.pop_back();
  return easy;
}

void CurlDriver::GiveBack(CURL* easy) {
  if (easy == nullptr) return;
  if (idle_easy_.size() >= kMaxIdleEasy) {
    curl_easy_cleanup(easy);
    return;
  }
  curl_easy_reset(easy);
  idle_easy_.push_back(easy);
}

size_t CurlDriver::priority_sockets() const {
  return static_cast<size_t>(
      std::count_if(sockets_.begin(), sockets_.end(), [](const auto& entry) { return entry.second->priority; }));
}

bool CurlDriver::BindingsConsistent() const {
  for (const auto& [fd, socket] : sockets_) {
    const LoopTransfer* transfer = socket->transfer;
    if (transfer == nullptr) continue;
    const LoopTransfer::Slot& slot = transfer->slot_;
    if (std::find(active_.begin(), active_.end(), transfer) == active_.end()) return false;
    if (slot.state != LoopTransfer::State::kRunning || slot.upstream != socket) return false;
  }
  for (const DriverSocket* orphan : orphans_) {
    if (orphan->transfer != nullptr) return false;
  }
  return true;
}

void CurlDriver::Start(CURL* easy, LoopTransfer& transfer) {
  LoopTransfer::Slot& slot = transfer.slot_;
  slot = LoopTransfer::Slot();
  slot.driver = this;
  slot.easy = easy;
  slot.state = LoopTransfer::State::kStarting;
  starting_.push_back(&transfer);
}

void CurlDriver::Abort(LoopTransfer& transfer) {
  LoopTransfer::Slot& slot = transfer.slot_;
  if (slot.driver != this || slot.abort_queued) return;
  if (slot.state != LoopTransfer::State::kStarting && slot.state != LoopTransfer::State::kRunning) return;
  slot.abort_queued = true;
  aborts_.push_back(&transfer);
}

void CurlDriver::NoteRead(LoopTransfer& transfer) {
  LoopTransfer::Slot& slot = transfer.slot_;
  if (slot.driver != this || slot.state != LoopTransfer::State::kRunning) return;
  slot.read_since_tick = true;
  if (!slot.got_data) {
    slot.got_data = true;
    if (slot.upstream != nullptr) Register(slot.upstream);  // leaves the priority set
  }
  if (!slot.touched) {
    slot.touched = true;
    touched_.push_back(&transfer);
  }
}

void CurlDriver::Resume(LoopTransfer& transfer) {
  LoopTransfer::Slot& slot = transfer.slot_;
  if (slot.driver != this || slot.state != LoopTransfer::State::kRunning || slot.resume_queued) return;
  slot.resume_queued = true;
  resumes_.push_back(&transfer);
}

void CurlDriver::AddStarting() {
  std::vector<LoopTransfer*>& starting = batch_;
  starting.swap(starting_);
  for (LoopTransfer* transfer : starting) {
    LoopTransfer::Slot& slot = transfer->slot_;
    // The least busy shard; ties go to the lowest, so a lightly loaded
    // server keeps reusing the same few upstream connections.
    DriverShard* shard = &shards_[0];
    for (size_t i = 1; i < shard_count_; ++i) {
      if (shards_[i].transfers < shard->transfers) shard = &shards_[i];
    }
    if (shard->transfers >= kShardTransfers && AddShard()) shard = &shards_[shard_count_ - 1];
    curl_easy_setopt(slot.easy, CURLOPT_PRIVATE, transfer);
    slot.state = LoopTransfer::State::kRunning;
    slot.shard = shard;
    slot.index = active_.size();
    active_.push_back(transfer);
    ++shard->transfers;
    if (curl_multi_add_handle(shard->multi, slot.easy) != CURLM_OK) {
      --shard->transfers;
      slot.shard = nullptr;
      Finish(*transfer, CURLE_FAILED_INIT);
    }
  }
  starting.clear();
  ArmTick();
}

// Takes `transfer` out of everything the driver holds and queues its Done().
void CurlDriver::Finish(LoopTransfer& transfer, CURLcode result) {
  LoopTransfer::Slot& slot = transfer.slot_;
  const LoopTransfer::State was = slot.state;
  slot.state = LoopTransfer::State::kFinished;
  slot.result = result;
  if (was == LoopTransfer::State::kStarting) std::erase(starting_, &transfer);
  if (was == LoopTransfer::State::kRunning) {
    // Removing an unfinished transfer closes its connection: what an abort wants.
    if (slot.shard != nullptr) {
      curl_multi_remove_handle(slot.shard->multi, slot.easy);
      --slot.shard->transfers;
    }
    LoopTransfer* last = active_.back();
    active_[slot.index] = last;
    last->slot_.index = slot.index;
    active_.pop_back();
  }
  if (slot.upstream != nullptr) {
    if (slot.upstream->transfer == &transfer) slot.upstream->transfer = nullptr;
    slot.upstream = nullptr;
  }
  if (slot.touched) std::erase(touched_, &transfer);
  if (slot.abort_queued) std::erase(aborts_, &transfer);
  if (slot.resume_queued) std::erase(resumes_, &transfer);
  slot.touched = slot.abort_queued = slot.resume_queued = false;
  completed_.push_back(&transfer);
}

void CurlDriver::AfterBatch() {
  for (int pass = 0; pass < kMaxPasses; ++pass) {
    if (!starting_.empty()) AddStarting();
    // Un-pausing may hand over what curl kept (write callbacks run).
    while (!resumes_.empty()) {
      LoopTransfer* transfer = resumes_.back();
      resumes_.pop_back();
      transfer->slot_.resume_queued = false;
      curl_easy_pause(transfer->slot_.easy, CURLPAUSE_CONT);
    }
    // Flush hints: what each transfer got in this batch leaves in one write
    // per consumer, before any transfer is reported done.
    // (Swapped with a member, not a local: no allocation per batch.)
    std::vector<LoopTransfer*>& touched = batch_;
    touched.swap(touched_);
    for (LoopTransfer* transfer : touched) {
      transfer->slot_.touched = false;
      if (transfer->slot_.state != LoopTransfer::State::kRunning) continue;
      transfer->AfterReads();
      if (transfer->ShouldStop(/*full_check=*/false)) Abort(*transfer);
    }
    touched.clear();
    while (!aborts_.empty()) {
      LoopTransfer* transfer = aborts_.back();
      aborts_.pop_back();
      transfer->slot_.abort_queued = false;
      Finish(*transfer, CURLE_ABORTED_BY_CALLBACK);
    }
    for (size_t i = 0; i < shard_count_; ++i) {
      int pending = 0;
      while (CURLMsg* message = curl_multi_info_read(shards_[i].multi, &pending)) {
        if (message->msg != CURLMSG_DONE) continue;
        void* owner = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &owner);
        auto* transfer = static_cast<LoopTransfer*>(owner);
        if (transfer != nullptr && transfer->slot_.state == LoopTransfer::State::kRunning) {
          Finish(*transfer, message->data.result);
        }
      }
    }
    std::vector<LoopTransfer*>& completed = batch_;
    completed.swap(completed_);
    for (LoopTransfer* transfer : completed) transfer->Done(transfer->slot_.result);  // may free it
    completed.clear();
    if (starting_.empty() && resumes_.empty() && touched_.empty() && aborts_.empty() && completed_.empty()) return;
  }
  loop_.Post([] {});  // what is left runs at the end of the next iteration
}

void CurlDriver::ArmTick() {
  if (tick_timer_ != 0 || transfers() == 0) return;
  tick_timer_ = loop_.After(kTick, [this] { Tick(); });
}

void CurlDriver::Tick() {
  tick_timer_ = 0;
  for (size_t i = active_.size(); i-- > 0;) {
    if (i >= active_.size()) continue;
    // A transfer that just read needs no timeout check; the full check is
    // for quiet ones, and for every one each kFullCheckTicks.
    LoopTransfer* transfer = active_[i];
    LoopTransfer::Slot& slot = transfer->slot_;
    const bool full = !slot.read_since_tick || ++slot.ticks_since_full_check >= kFullCheckTicks;
    if (full) slot.ticks_since_full_check = 0;
    slot.read_since_tick = false;
    if (transfer->ShouldStop(full)) Abort(*transfer);
  }
  ArmTick();
}

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
