// The curl multi-socket driver of one EventLoop (curl_driver.h). Work that
// must not happen inside a curl callback (adding and removing handles,
// un-pausing, completions) is queued and done once per iteration, in the
// loop's after-batch hook: the flush hints of what the batch read come
// first, then transfers that ended, each reported exactly once. curl's
// socket and timer callbacks are in curl_driver_sockets.cpp.
#include "llm/curl_driver.h"

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

}  // namespace flowrun
