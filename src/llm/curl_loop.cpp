// One upstream event loop: epoll + curl's multi-socket API on one thread
// (curl_loops.cpp keeps the set of them). Workers submit a Job and sleep on it; the loop finishes it once
// curl reports the transfer done or the transfer asks to stop. A finished
// job is signalled only at the end of the batch, after everything else the
// loop does with it, because the worker may free it right after.
#include "llm/curl_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/event_loop_thread.h"
#include "core/log.h"
#include "llm/curl_handles.h"

namespace flowrun {

using Clock = std::chrono::steady_clock;

// How often every transfer is asked whether it should stop (cancellation by
// another thread, first-token and idle timeouts, heartbeats via the probe).
// A client's hang-up needs no tick (epoll reports it). Each tick touches
// every transfer's state: at 5000 streams, 50 ms ticks cost ~15 % of the
// loop, mostly cache misses; 100 ms is still fine-grained for timeouts
// measured in seconds.
constexpr auto kLoopTick = std::chrono::milliseconds(100);
constexpr int kFullCheckTicks = 10;

// Multi handles per loop. libcurl 7.88 walks every connection of a multi
// handle's cache when a transfer is removed (and the host's connections when
// one starts): with 5000 streams on one multi handle that was a third of
// the loop's time. Spread over shards, each walk is that much shorter.
constexpr size_t kShards = 16;

class CurlLoop;

// One multi handle with its connection cache and curl's timer for it.
struct LoopShard {
  CurlLoop* loop = nullptr;
  CURLM* multi = nullptr;
  size_t transfers = 0;  // jobs added and not yet finished
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct LoopJob;

// What an epoll registration stands for.
struct LoopWatch {
  enum class Kind : uint8_t { kWake, kFirstData, kCurl, kHangup };
  Kind kind;
  int fd = -1;                 // -1: retired (curl dropped the socket during this batch)
  LoopJob* job = nullptr;      // kHangup: its job; kCurl: the transfer using the socket, if known
  LoopShard* shard = nullptr;  // kCurl only
  int epoll = -1;              // kCurl: the epoll set it is registered in
  uint32_t events = 0;         // kCurl: what curl wants to know
};

class CurlLoop;

struct LoopJob {
  CurlLoop* loop = nullptr;
  LoopShard* shard = nullptr;
  CURL* easy = nullptr;
  LoopTransfer* transfer = nullptr;
  Cancellation* cancel = nullptr;
  LoopWatch hangup{LoopWatch::Kind::kHangup};
  size_t index = 0;       // position in CurlLoop::active_
  bool got_data = false;  // the upstream has sent something
  bool read_since_tick = false;
  uint8_t ticks_since_full_check = 0;
  LoopWatch* upstream = nullptr;  // the socket the transfer reads, once curl said
  bool touched = false;   // in CurlLoop::touched_
  bool finished = false;  // result is final; signalled at the end of the batch
  CURLcode result = CURLE_OK;
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool done = false;  // guarded by mutex: the worker may go
};

class CurlLoop : public CurlLoopThread {
 public:
  // Check ok(); when false, error() says what failed.
  CurlLoop() {
    CurlHandles::InitialiseCurl();
    // errno names the cause, e.g. "Too many open files".
    auto failed = [this](const char* what) { error_ = std::string(what) + ": " + std::strerror(errno); };
    if ((epoll_ = epoll_create1(EPOLL_CLOEXEC)) < 0 || (first_data_.fd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
      failed("epoll_create1");
      return;
    }
    if ((wake_.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
      failed("eventfd");
      return;
    }
    for (LoopShard& shard : shards_) {
      shard.loop = this;
      shard.multi = curl_multi_init();
      if (shard.multi == nullptr) {
        error_ = "curl_multi_init failed";
        return;
      }
      curl_multi_setopt(shard.multi, CURLMOPT_SOCKETFUNCTION, &CurlLoop::SocketThunk);
      curl_multi_setopt(shard.multi, CURLMOPT_SOCKETDATA, &shard);
      curl_multi_setopt(shard.multi, CURLMOPT_TIMERFUNCTION, &CurlLoop::TimerThunk);
      curl_multi_setopt(shard.multi, CURLMOPT_TIMERDATA, &shard);
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &wake_;
    const bool added = epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_.fd, &event) == 0;
    event.data.ptr = &first_data_;
    if (!added || epoll_ctl(epoll_, EPOLL_CTL_ADD, first_data_.fd, &event) != 0) {
      failed("epoll_ctl");
      return;
    }
    try {
      thread_ = std::thread([this] { Main(); });
    } catch (const std::system_error& thread_error) {
      error_ = std::string("cannot create its thread: ") + thread_error.what();
      return;
    }
    ok_ = true;
  }

  ~CurlLoop() override {
    if (thread_.joinable()) {
      stopping_.store(true);
      Wake();
      thread_.join();
    }
    for (LoopShard& shard : shards_) {
      if (shard.multi != nullptr) curl_multi_cleanup(shard.multi);
    }
    if (wake_.fd >= 0) close(wake_.fd);
    if (first_data_.fd >= 0) close(first_data_.fd);
    if (epoll_ >= 0) close(epoll_);
  }

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  CURLcode Run(CURL* easy, LoopTransfer& transfer, Cancellation& cancel) override {
    LoopJob job;
    job.loop = this;
    job.easy = easy;
    job.transfer = &transfer;
    job.cancel = &cancel;
    job.hangup.job = &job;
    transfer.loop_job_ = &job;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      incoming_.push_back(&job);
    }
    has_incoming_.store(true, std::memory_order_release);
    Wake();
    std::unique_lock<std::mutex> lock(job.mutex);
    job.finished_cv.wait(lock, [&] { return job.done; });
    transfer.loop_job_ = nullptr;
    return job.result;
  }

  void Touch(LoopJob* job) {
    if (job == nullptr || job->touched || job->finished) return;
    job->read_since_tick = true;
    if (!job->got_data) {
      job->got_data = true;
      if (job->upstream != nullptr) Register(job->upstream, epoll_);
    }
    job->touched = true;
    touched_.push_back(job);
  }

 private:
  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t ignored = write(wake_.fd, &one, sizeof(one));
  }

  void Main() {
    MarkEventLoopThread();
    std::vector<epoll_event> events(512);
    next_tick_ = Clock::now() + kLoopTick;
    while (!stopping_.load(std::memory_order_relaxed)) {
      const int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), WaitMs());
      if (ready < 0 && errno != EINTR) {
        LogError("upstream event loop: epoll_wait failed");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      for (int i = 0; i < ready; ++i) Dispatch(events[i]);
      StartIncoming();
      // Sockets of transfers still waiting for their first data are served
      // every batch, ahead of the thousands of streams already flowing:
      // under load, time to first token is what a user notices.
      const int first = epoll_wait(first_data_.fd, events.data(), static_cast<int>(events.size()), 0);
      for (int i = 0; i < first; ++i) Dispatch(events[i]);
      RetireWatches();
      const Clock::time_point now = Clock::now();
      for (LoopShard& shard : shards_) {
        if (shard.deadline && now >= *shard.deadline) {
          shard.deadline.reset();
          int running = 0;
          curl_multi_socket_action(shard.multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
      }
      EndBatch();
    }
  }

  int WaitMs() const {
    std::optional<Clock::time_point> wake_at;
    for (const LoopShard& shard : shards_) {
      if (shard.deadline && (!wake_at || *shard.deadline < *wake_at)) wake_at = shard.deadline;
    }
    if (!active_.empty() && (!wake_at || next_tick_ < *wake_at)) wake_at = next_tick_;
    if (!wake_at) return -1;
    const auto left = *wake_at - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    // Round up: waking a fraction early would spin until the deadline.
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

  void Dispatch(const epoll_event& event) {
    auto* watch = static_cast<LoopWatch*>(event.data.ptr);
    switch (watch->kind) {
      case LoopWatch::Kind::kWake: {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t ignored = read(wake_.fd, &count, sizeof(count));
        StartIncoming();
        break;
      }
      case LoopWatch::Kind::kFirstData:
        break;  // served after every batch
      case LoopWatch::Kind::kCurl: {
        if (watch->fd < 0) break;  // retired earlier in this batch
        int flags = 0;
        if ((event.events & EPOLLIN) != 0) flags |= CURL_CSELECT_IN;
        if ((event.events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
        if ((event.events & (EPOLLERR | EPOLLHUP)) != 0) flags |= CURL_CSELECT_ERR;
        int running = 0;
        curl_multi_socket_action(watch->shard->multi, watch->fd, flags, &running);
        break;
      }
      case LoopWatch::Kind::kHangup: {
        LoopJob* job = watch->job;
        job->cancel->Cancel("client disconnected");
        Unwatch(job);
        Touch(job);
        break;
      }
    }
  }

  // New transfers start after every batch, not only when the wake-up comes
  // round in epoll's ready list: under load that list holds thousands of
  // sockets and a new stream would wait several batches for its turn.
  void StartIncoming() {
    if (!has_incoming_.exchange(false, std::memory_order_acquire)) return;
    std::vector<LoopJob*> jobs;
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      jobs.swap(incoming_);
    }
    for (LoopJob* job : jobs) Start(job);
  }

  void Start(LoopJob* job) {
    job->index = active_.size();
    active_.push_back(job);
    curl_easy_setopt(job->easy, CURLOPT_PRIVATE, job);
    const int client = job->cancel->hangup_socket();
    if (client >= 0) {
      epoll_event event{};
      event.events = EPOLLRDHUP;
      event.data.ptr = &job->hangup;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, client, &event) == 0) {
        job->hangup.fd = client;
        job->cancel->SetHangupWatched(true);
      }
    }
    // The least busy shard; ties go to the lowest, so a lightly loaded
    // server keeps reusing the same few upstream connections.
    LoopShard* shard = &shards_[0];
    for (LoopShard& candidate : shards_) {
      if (candidate.transfers < shard->transfers) shard = &candidate;
    }
    job->shard = shard;
    ++shard->transfers;
    const CURLMcode added = curl_multi_add_handle(shard->multi, job->easy);
    if (added != CURLM_OK) Finish(job, CURLE_FAILED_INIT, /*in_multi=*/false);
  }

  void Unwatch(LoopJob* job) {
    if (job->hangup.fd < 0) return;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, job->hangup.fd, nullptr);
    job->hangup.fd = -1;
    job->cancel->SetHangupWatched(false);
  }

  // Ends `job` with `result`; the worker is woken at the end of the batch.
  void Finish(LoopJob* job, CURLcode result, bool in_multi) {
    if (job->finished) return;
    job->finished = true;
    job->result = result;
    // Removing an unfinished transfer closes its connection: what an abort wants.
    if (in_multi) curl_multi_remove_handle(job->shard->multi, job->easy);
    --job->shard->transfers;
    Unwatch(job);
    if (job->upstream != nullptr) {
      job->upstream->job = nullptr;
      job->upstream = nullptr;
    }
    LoopJob* last = active_.back();
    active_[job->index] = last;
    last->index = job->index;
    active_.pop_back();
    completed_.push_back(job);
  }

  void StopIfAsked(LoopJob* job, bool full_check) {
    if (!job->finished && job->transfer->ShouldStop(full_check)) Finish(job, CURLE_ABORTED_BY_CALLBACK, true);
  }

  void EndBatch() {
    // Flush hints first: what the transfers got in this batch leaves in one
    // write per client, before any of them is finished.
    for (size_t i = 0; i < touched_.size(); ++i) {
      LoopJob* job = touched_[i];
      job->touched = false;
      if (job->finished) continue;
      job->transfer->AfterReads();
      StopIfAsked(job, /*full_check=*/false);
    }
    touched_.clear();
    for (LoopShard& shard : shards_) {
      int pending = 0;
      while (CURLMsg* message = curl_multi_info_read(shard.multi, &pending)) {
        if (message->msg != CURLMSG_DONE) continue;
        void* job = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &job);
        if (job != nullptr) Finish(static_cast<LoopJob*>(job), message->data.result, true);
      }
    }
    if (!active_.empty() && Clock::now() >= next_tick_) {
      next_tick_ = Clock::now() + kLoopTick;
      for (size_t i = active_.size(); i-- > 0;) {
        if (i >= active_.size()) continue;
        // A transfer that just read needs no timeout check, and its client
        // was just written to; the full check (which runs the server's
        // probe) is for quiet ones, and for every one each kFullCheckTicks.
        LoopJob* job = active_[i];
        bool full = !job->read_since_tick || ++job->ticks_since_full_check >= kFullCheckTicks;
        if (full) job->ticks_since_full_check = 0;
        job->read_since_tick = false;
        StopIfAsked(job, full);
        // Flow control: a transfer paused for a lagging client resumes once
        // the client has caught up (the full check ran the consumer's probe,
        // which sends what waits).
        if (!job->finished && job->transfer->paused_ && !job->cancel->consumer_backlogged()) {
          job->transfer->paused_ = false;
          curl_easy_pause(job->easy, CURLPAUSE_CONT);  // may hand over what curl kept at once
        }
      }
    } else if (active_.empty()) {
      next_tick_ = Clock::now() + kLoopTick;
    }
    for (LoopJob* job : completed_) {
      std::lock_guard<std::mutex> lock(job->mutex);
      job->done = true;
      // Under the lock: the worker frees the job as soon as it may go.
      job->finished_cv.notify_one();
    }
    completed_.clear();
  }

  static int SocketThunk(CURL* easy, curl_socket_t fd, int what, void* shard, void* socket_data) {
    auto* owner = static_cast<LoopShard*>(shard);
    owner->loop->OnSocket(*owner, easy, fd, what, static_cast<LoopWatch*>(socket_data));
    return 0;
  }

  void OnSocket(LoopShard& shard, CURL* easy, curl_socket_t fd, int what, LoopWatch* watch) {
    if (what == CURL_POLL_REMOVE) {
      if (watch != nullptr) {
        epoll_ctl(watch->epoll, EPOLL_CTL_DEL, fd, nullptr);
        curl_multi_assign(shard.multi, fd, nullptr);
        if (watch->job != nullptr && watch->job->upstream == watch) watch->job->upstream = nullptr;
        // An event for it may still wait in this batch: free it afterwards.
        watch->fd = -1;
        retired_.push_back(watch);
      }
      return;
    }
    if (watch == nullptr) {
      watch = new LoopWatch{LoopWatch::Kind::kCurl, fd, nullptr, &shard};
      curl_multi_assign(shard.multi, fd, watch);
    }
    watch->events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) watch->events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) watch->events |= EPOLLOUT;
    void* job = nullptr;
    if (easy != nullptr) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &job);
    auto* owner = static_cast<LoopJob*>(job);
    if (owner != nullptr && !owner->finished && owner->upstream != watch) {
      if (watch->job != nullptr && watch->job->upstream == watch) watch->job->upstream = nullptr;
      watch->job = owner;
      owner->upstream = watch;
    }
    const bool waiting = watch->job != nullptr && !watch->job->got_data;
    Register(watch, waiting ? first_data_.fd : epoll_);
  }

  // (Re)registers a curl socket's interest in `epoll`, moving it from the
  // other set if it was there.
  void Register(LoopWatch* watch, int epoll) {
    if (watch->fd < 0) return;
    epoll_event event{};
    event.events = watch->events;
    event.data.ptr = watch;
    if (watch->epoll == epoll) {
      epoll_ctl(epoll, EPOLL_CTL_MOD, watch->fd, &event);
      return;
    }
    if (watch->epoll >= 0) epoll_ctl(watch->epoll, EPOLL_CTL_DEL, watch->fd, nullptr);
    // A socket curl closed without telling us may still be registered.
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, watch->fd, &event) != 0 && errno == EEXIST) {
      epoll_ctl(epoll, EPOLL_CTL_MOD, watch->fd, &event);
    }
    watch->epoll = epoll;
  }

  void RetireWatches() {
    for (LoopWatch* watch : retired_) delete watch;
    retired_.clear();
  }

  static int TimerThunk(CURLM*, long timeout_ms, void* shard) {
    auto* owner = static_cast<LoopShard*>(shard);
    if (timeout_ms < 0) {
      owner->deadline.reset();
    } else {
      owner->deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  bool ok_ = false;
  std::string error_;
  int epoll_ = -1;
  LoopWatch wake_{LoopWatch::Kind::kWake};
  LoopWatch first_data_{LoopWatch::Kind::kFirstData};  // fd: an epoll set of its own
  LoopShard shards_[kShards];
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex queue_mutex_;
  std::vector<LoopJob*> incoming_;  // guarded by queue_mutex_
  std::atomic<bool> has_incoming_{false};
  // Loop thread only from here on.
  std::vector<LoopJob*> active_;
  std::vector<LoopJob*> touched_;
  std::vector<LoopJob*> completed_;
  std::vector<LoopWatch*> retired_;
  Clock::time_point next_tick_;
};

std::unique_ptr<CurlLoopThread> StartCurlLoopThread(std::string* error) {
  auto loop = std::make_unique<CurlLoop>();
  if (loop->ok()) return loop;
  *error = loop->error();
  return nullptr;
}

void AfterReadsOnLoop(LoopTransfer& transfer) {
  if (transfer.loop_job_ != nullptr) transfer.loop_job_->loop->Touch(transfer.loop_job_);
}

}  // namespace flowrun
