// The executor behind every loop thread: epoll, eventfd and a timer heap,
// plus a priority epoll set and after-batch hooks (event_loop.h).
#include "core/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace flowrun {
namespace {

// One epoll_wait returns at most this many ready descriptors.
constexpr int kBatch = 512;
// Busy() is the share of the last window of at least this much wall time.
constexpr std::chrono::milliseconds kBusyWindow{50};

thread_local EventLoop* t_current_loop = nullptr;

}  // namespace

EventLoop::~EventLoop() {
  // Attachments may still unwatch descriptors and cancel timers.
  attachments_.clear();
  if (priority_epoll_ >= 0) close(priority_epoll_);
  if (epoll_ >= 0) close(epoll_);
  if (wake_ >= 0) close(wake_);
}

Status EventLoop::Init() {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0) return Status::Unavailable(std::string("cannot create an event loop: ") + strerror(errno));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the wake-up
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0) {
    return Status::Unavailable(std::string("cannot create an event loop: ") + strerror(errno));
  }
  return Status::Ok();
}

bool EventLoop::OnLoopThread() const { return t_current_loop == this; }

EventLoop* EventLoop::Current() { return t_current_loop; }

void EventLoop::Post(Callback fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  has_posted_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_, &one, sizeof(one));
}

void EventLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    stop_requested_ = true;
  }
  has_posted_.store(true, std::memory_order_release);
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
  auto entry = std::make_unique<WatchEntry>();
  entry->fd = fd;
  entry->events = events;
  entry->callback = std::move(fn);
  epoll_event event{};
  event.events = events;
  event.data.ptr = entry.get();
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) return false;
  auto found = watches_.find(fd);
  if (found != watches_.end()) {
    // The kernel took it, so the old registration is gone: the descriptor
    // was closed while watched and its number reused.
    WatchEntry& old = *found->second;
    old.live = false;
    if (old.priority) {
      if (priority_epoll_ >= 0) epoll_ctl(priority_epoll_, EPOLL_CTL_DEL, fd, nullptr);
      --priority_watches_;
    }
    unwatched_.push_back(std::move(found->second));
    found->second = std::move(entry);
  } else {
    watches_.emplace(fd, std::move(entry));
  }
  return true;
}

bool EventLoop::Modify(int fd, uint32_t events) {
  auto found = watches_.find(fd);
  if (found == watches_.end()) return false;
  WatchEntry& entry = *found->second;
  entry.events = events;
  epoll_event event{};
  event.events = events;
  event.data.ptr = &entry;
  const int set = SetOf(entry);
  if (epoll_ctl(set, EPOLL_CTL_MOD, fd, &event) == 0) return true;
  // Closed while watched and the number reused: register it afresh.
  return errno == ENOENT && epoll_ctl(set, EPOLL_CTL_ADD, fd, &event) == 0;
}

void EventLoop::Unwatch(int fd) {
  auto found = watches_.find(fd);
  if (found == watches_.end()) return;
  WatchEntry& entry = *found->second;
  epoll_ctl(SetOf(entry), EPOLL_CTL_DEL, fd, nullptr);
  if (entry.priority) --priority_watches_;
  entry.live = false;
  unwatched_.push_back(std::move(found->second));
  watches_.erase(found);
}

bool EventLoop::SetPriority(int fd, bool priority) {
  auto found = watches_.find(fd);
  if (found == watches_.end()) return false;
  WatchEntry& entry = *found->second;
  if (entry.priority == priority) return true;
  if (priority && priority_epoll_ < 0) {
    const int set = epoll_create1(EPOLL_CLOEXEC);
    if (set < 0) return false;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &priority_epoll_;  // a tag: served after every batch
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, set, &event) != 0) {
      close(set);
      return false;
    }
    priority_epoll_ = set;
  }
  epoll_event event{};
  event.events = entry.events;
  event.data.ptr = &entry;
  const int from = SetOf(entry);
  const int to = priority ? priority_epoll_ : epoll_;
  if (epoll_ctl(to, EPOLL_CTL_ADD, fd, &event) != 0 && errno != EEXIST) return false;
  epoll_ctl(from, EPOLL_CTL_DEL, fd, nullptr);
  entry.priority = priority;
  if (priority) {
    ++priority_watches_;
  } else {
    --priority_watches_;
  }
  return true;
}

EventLoop::HookId EventLoop::AddAfterBatch(Callback fn) {
  const HookId id = next_hook_++;
  after_batch_.push_back(std::make_unique<Hook>(Hook{id, std::move(fn)}));
  return id;
}

void EventLoop::RemoveAfterBatch(HookId id) {
  for (auto& hook : after_batch_) {
    if (hook->id == id) {
      hook->removed = true;
      hooks_removed_ = true;
    }
  }
}

EventLoop::Attachment* EventLoop::FindAttachment(const void* key) const {
  auto found = attachments_.find(key);
  return found == attachments_.end() ? nullptr : found->second.get();
}

void EventLoop::Attach(const void* key, std::unique_ptr<Attachment> attachment) {
  attachments_[key] = std::move(attachment);
}

int EventLoop::WaitMs() const {
  // Cancelled timers still sit in the heap; waking early for one is harmless.
  if (timers_.empty()) return -1;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(timers_.top().due - Clock::now()).count();
  return wait <= 0 ? 0 : static_cast<int>(std::min<long long>(wait, 60000));
}

void EventLoop::Dispatch(void* tag, uint32_t events) {
  if (tag == nullptr) {
    uint64_t count;
    [[maybe_unused]] ssize_t got = read(wake_, &count, sizeof(count));
    return;
  }
  if (tag == &priority_epoll_) return;  // served after the batch
  // Entries unwatched in this batch stay allocated until its end.
  auto* entry = static_cast<WatchEntry*>(tag);
  if (entry->live) entry->callback(events);
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
  // Most iterations have nothing posted: no lock for them.
  if (!has_posted_.exchange(false, std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    running_posted_.swap(posted_);
    if (stop_requested_) stopping_ = true;
  }
  for (auto& fn : running_posted_) fn();
  running_posted_.clear();  // keeps its capacity for the next batch
}

void EventLoop::RunAfterBatch() {
  // By index: a hook may add hooks (which run from the next iteration);
  // a hook removed meanwhile stays allocated until the end.
  const size_t count = after_batch_.size();
  for (size_t i = 0; i < count; ++i) {
    Hook* hook = after_batch_[i].get();
    if (!hook->removed) hook->fn();
  }
  if (hooks_removed_) {
    std::erase_if(after_batch_, [](const auto& hook) { return hook->removed; });
    hooks_removed_ = false;
  }
}

// Adds one iteration (waited from `waited_from`, worked from `woke`) to the
// window behind Busy(); returns now.
EventLoop::Clock::time_point EventLoop::NoteIteration(Clock::time_point waited_from, Clock::time_point woke) {
  const Clock::time_point now = Clock::now();
  window_busy_ += now - woke;
  window_total_ += now - waited_from;
  if (window_total_ >= kBusyWindow) {
    busy_ = std::chrono::duration<double>(window_busy_) / std::chrono::duration<double>(window_total_);
    window_busy_ = Clock::duration::zero();
    window_total_ = Clock::duration::zero();
  }
  return now;
}

void EventLoop::Run() {
  EventLoop* const outer = t_current_loop;
  t_current_loop = this;
  std::vector<epoll_event> events(kBatch);
  Clock::time_point waited_from = Clock::now();
  while (!stopping_) {
    const int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), WaitMs());
    if (ready < 0 && errno != EINTR) break;
    const Clock::time_point woke = Clock::now();
    for (int i = 0; i < ready; ++i) Dispatch(events[i].data.ptr, events[i].events);
    if (priority_watches_ > 0) {
      const int first = epoll_wait(priority_epoll_, events.data(), static_cast<int>(events.size()), 0);
      for (int i = 0; i < first; ++i) Dispatch(events[i].data.ptr, events[i].events);
    }
    RunPosted();
    RunDueTimers();
    RunAfterBatch();
    unwatched_.clear();
    waited_from = NoteIteration(waited_from, woke);
  }
  RunPosted();
  unwatched_.clear();
  t_current_loop = outer;
}

}  // namespace flowrun
