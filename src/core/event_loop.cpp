// The executor behind every loop thread: epoll, eventfd and a timer heap.
#include "core/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace flowrun {
namespace {

constexpr uint64_t kWakeKey = 0;

thread_local const void* t_current_loop = nullptr;

}  // namespace

EventLoop::~EventLoop() {
  if (epoll_ >= 0) close(epoll_);
  if (wake_ >= 0) close(wake_);
}

Status EventLoop::Init() {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0) return Status::Error(std::string("cannot create an event loop: ") + strerror(errno));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeKey;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0) {
    return Status::Error(std::string("cannot create an event loop: ") + strerror(errno));
  }
  return Status::Ok();
}

bool EventLoop::OnLoopThread() const { return t_current_loop == this; }

void EventLoop::Post(Callback fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_, &one, sizeof(one));
}

void EventLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_, &one, sizeof(one));
}

EventLoop::TimerId EventLoop::After(std::chrono::milliseconds delay, Callback fn) {
  const TimerId id = next_timer_++;
  timers_.push(Timer{Clock::now() + delay, id});
  timer_callbacks_.emplace(id, std::move(fn));
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  if (id != 0) timer_callbacks_.erase(id);  // its heap entry is skipped when due
}

bool EventLoop::Watch(int fd, uint32_t events, FdCallback fn) {
  const uint64_t key = next_watch_key_++;
  epoll_event event{};
  event.events = events;
  event.data.u64 = key;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) return false;
  watch_keys_[fd] = key;
  watches_.emplace(key, WatchEntry{key, std::move(fn)});
  return true;
}

bool EventLoop::Modify(int fd, uint32_t events) {
  auto found = watch_keys_.find(fd);
  if (found == watch_keys_.end()) return false;
  epoll_event event{};
  event.events = events;
  event.data.u64 = found->second;
  return epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &event) == 0;
}

void EventLoop::Unwatch(int fd) {
  auto found = watch_keys_.find(fd);
  if (found == watch_keys_.end()) return;
  epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(found->second);
  watch_keys_.erase(found);
}

int EventLoop::WaitMs() const {
  // Cancelled timers still sit in the heap; waking early for one is harmless.
  if (timers_.empty()) return -1;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(timers_.top().due - Clock::now()).count();
  return wait <= 0 ? 0 : static_cast<int>(std::min<long long>(wait, 60000));
}

void EventLoop::RunDueTimers() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.top().due <= now) {
    const TimerId id = timers_.top().id;
    timers_.pop();
    auto found = timer_callbacks_.find(id);
    if (found == timer_callbacks_.end()) continue;
    Callback fn = std::move(found->second);
    timer_callbacks_.erase(found);
    fn();
  }
}

void EventLoop::RunPosted() {
  std::vector<Callback> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    batch.swap(posted_);
    if (stop_requested_) stopping_ = true;
  }
  for (auto& fn : batch) fn();
}

void EventLoop::Run() {
  t_current_loop = this;
  loop_thread_ = this;
  std::vector<epoll_event> events(256);
  while (!stopping_) {
    const int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), WaitMs());
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < ready; ++i) {
      const uint64_t key = events[i].data.u64;
      if (key == kWakeKey) {
        uint64_t count;
        [[maybe_unused]] ssize_t got = read(wake_, &count, sizeof(count));
        continue;
      }
      auto found = watches_.find(key);
      if (found == watches_.end()) continue;  // unwatched earlier in this batch
      // The callback may unwatch its own descriptor: run a copy.
      FdCallback fn = found->second.callback;
      fn(events[i].events);
    }
    RunPosted();
    RunDueTimers();
  }
  RunPosted();
  t_current_loop = nullptr;
}

}  // namespace flowrun
