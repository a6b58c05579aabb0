// EventLoop's additions for the curl driver: the priority watch set (served
// after every batch, however long the ordinary ready list), after-batch
// hooks, attachments destroyed with the loop, Current(), and descriptors
// closed while watched and whose numbers come back.
#include "core/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace flowrun {
namespace {

using std::chrono::milliseconds;

void Signal(int fd) {
  const uint64_t one = 1;
  ASSERT_EQ(write(fd, &one, sizeof(one)), static_cast<ssize_t>(sizeof(one)));
}

void Drain(int fd) {
  uint64_t count;
  [[maybe_unused]] ssize_t got = read(fd, &count, sizeof(count));
}

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(loop_.Init().ok()); }
  void TearDown() override {
    for (int fd : fds_) close(fd);
  }
  int NewEventFd() {
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }
  // Runs the loop once (Run is called once per loop): step i runs at the end
  // of iteration i, so what a step signals is seen by the next iteration.
  // A watchdog stops the loop anyway after 20 s.
  void RunSteps(std::vector<std::function<void()>> steps) {
    size_t next = 0;
    loop_.AddAfterBatch([&] {
      if (next < steps.size()) steps[next++]();
      if (next == steps.size()) {
        loop_.Stop();
      } else {
        loop_.Post([] {});  // the next iteration must not wait
      }
    });
    loop_.Post([] {});
    std::thread watchdog([this] {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < until && !stopped_.load()) std::this_thread::sleep_for(milliseconds(5));
      if (!stopped_.load()) loop_.Stop();
    });
    loop_.Run();
    stopped_ = true;
    watchdog.join();
    EXPECT_EQ(next, steps.size()) << "the loop stopped before every step ran";
  }

  EventLoop loop_;
  std::vector<int> fds_;
  std::atomic<bool> stopped_{false};
};

TEST_F(EventLoopTest, APriorityDescriptorIsServedAfterTheFirstBatchNotBehindTheRest) {
  // More ready ordinary descriptors than one epoll_wait returns (512).
  constexpr int kOrdinary = 1500;
  std::vector<std::string> order;
  for (int i = 0; i < kOrdinary; ++i) {
    const int fd = NewEventFd();
    Signal(fd);
    ASSERT_TRUE(loop_.Watch(fd, EPOLLIN, [&order, fd](uint32_t) {
      Drain(fd);
      order.push_back("ordinary");
    }));
  }
  const int first = NewEventFd();
  ASSERT_TRUE(loop_.Watch(first, EPOLLIN, [&order, first](uint32_t) {
    Drain(first);
    order.push_back("priority");
  }));
  ASSERT_TRUE(loop_.SetPriority(first, true));
  Signal(first);
  RunSteps({[] {}, [] {}, [] {}, [] {}});
  ASSERT_EQ(order.size(), static_cast<size_t>(kOrdinary + 1));
  const size_t at = std::find(order.begin(), order.end(), "priority") - order.begin();
  EXPECT_LE(at, 512u) << "the priority descriptor waited behind more than one batch";
  EXPECT_GE(kOrdinary - at, 900u) << "the ordinary descriptors did not wait for later batches";
}

TEST_F(EventLoopTest, ADescriptorMovesBackOutOfThePrioritySetAndKeepsItsEvents) {
  const int fd = NewEventFd();
  int calls = 0;
  ASSERT_TRUE(loop_.Watch(fd, EPOLLIN, [&, fd](uint32_t) {
    Drain(fd);
    ++calls;
  }));
  EXPECT_FALSE(loop_.SetPriority(12345, true)) << "not watched";
  ASSERT_TRUE(loop_.SetPriority(fd, true));
  ASSERT_TRUE(loop_.Modify(fd, EPOLLIN));  // in the priority set
  Signal(fd);
  RunSteps({[&] {
              EXPECT_EQ(calls, 1);
              EXPECT_TRUE(loop_.SetPriority(fd, false));
              Signal(fd);
            },
            [&] {
              EXPECT_EQ(calls, 2) << "moved back, it lost its events";
              EXPECT_TRUE(loop_.SetPriority(fd, true));
              loop_.Unwatch(fd);
              Signal(fd);
            },
            [&] { EXPECT_EQ(calls, 2) << "an unwatched priority descriptor still ran"; }});
}

TEST_F(EventLoopTest, AfterBatchHooksRunLastInEveryIterationAndCanRemoveThemselves) {
  const int fd = NewEventFd();
  std::vector<std::string> order;
  ASSERT_TRUE(loop_.Watch(fd, EPOLLIN, [&, fd](uint32_t) {
    Drain(fd);
    order.push_back("fd");
  }));
  Signal(fd);
  loop_.Post([&] { order.push_back("posted"); });
  loop_.After(milliseconds(0), [&] { order.push_back("timer"); });
  EventLoop::HookId once = 0;
  once = loop_.AddAfterBatch([&] {
    order.push_back("hook");
    loop_.RemoveAfterBatch(once);
  });
  int every = 0;
  EventLoop::HookId counting = 0;
  counting = loop_.AddAfterBatch([&] { ++every; });
  RunSteps({[&] { EXPECT_EQ(order, (std::vector<std::string>{"fd", "posted", "timer", "hook"})); },
            [&] {
              EXPECT_EQ(every, 2);
              loop_.RemoveAfterBatch(counting);
            },
            [&] { EXPECT_EQ(every, 2) << "a removed hook still ran"; }});
  EXPECT_EQ(order.size(), 4u) << "the hook that removed itself ran again";
}

TEST_F(EventLoopTest, ACallbackMayUnwatchAnotherDescriptorReadyInTheSameBatch) {
  const int a = NewEventFd();
  const int b = NewEventFd();
  int calls = 0;
  auto callback = [&](int self, int other) {
    return [&, self, other](uint32_t) {
      Drain(self);
      ++calls;
      loop_.Unwatch(other);
      loop_.Unwatch(self);  // its own, from inside: it keeps running
    };
  };
  ASSERT_TRUE(loop_.Watch(a, EPOLLIN, callback(a, b)));
  ASSERT_TRUE(loop_.Watch(b, EPOLLIN, callback(b, a)));
  Signal(a);
  Signal(b);
  RunSteps({[] {}});
  EXPECT_EQ(calls, 1) << "the descriptor unwatched earlier in the batch still got its event";
}

TEST_F(EventLoopTest, ADescriptorClosedWhileWatchedCanBeWatchedAgainUnderItsNumber) {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  int old_calls = 0;
  ASSERT_TRUE(loop_.Watch(fd, EPOLLIN, [&](uint32_t) { ++old_calls; }));
  EXPECT_FALSE(loop_.Watch(fd, EPOLLIN, [](uint32_t) {})) << "watched twice";
  close(fd);  // without Unwatch: the kernel drops it from the epoll set
  const int again = NewEventFd();
  ASSERT_EQ(again, fd) << "the number did not come back (the test needs it to)";
  int new_calls = 0;
  ASSERT_TRUE(loop_.Watch(again, EPOLLIN, [&, again](uint32_t) {
    Drain(again);
    ++new_calls;
  }));
  Signal(again);
  RunSteps({[&] {
              EXPECT_EQ(new_calls, 1);
              EXPECT_EQ(old_calls, 0);
              // The same for Modify on a stale watch: it registers the descriptor afresh.
              close(again);
              fds_.clear();
              const int third = NewEventFd();
              ASSERT_EQ(third, fd);
              EXPECT_TRUE(loop_.Modify(third, EPOLLIN));
              Signal(third);
            },
            [&] { EXPECT_EQ(new_calls, 2) << "Modify did not bring the stale watch back"; }});
}

TEST_F(EventLoopTest, CurrentNamesTheRunningLoopAndNestedLoopsRestoreIt) {
  EXPECT_EQ(EventLoop::Current(), nullptr);
  EventLoop* seen = nullptr;
  EventLoop* inner_seen = nullptr;
  EventLoop* after_inner = nullptr;
  loop_.Post([&] {
    seen = EventLoop::Current();
    EventLoop inner;
    ASSERT_TRUE(inner.Init().ok());
    inner.Post([&] {
      inner_seen = EventLoop::Current();
      inner.Stop();
    });
    inner.Run();
    after_inner = EventLoop::Current();
  });
  RunSteps({[] {}});
  EXPECT_EQ(seen, &loop_);
  EXPECT_TRUE(inner_seen != nullptr && inner_seen != &loop_);
  EXPECT_EQ(after_inner, &loop_);
  EXPECT_EQ(EventLoop::Current(), nullptr);
}

// An attachment that unwatches its descriptor when destroyed: the loop
// destroys attachments first, while its epoll set is still open.
class WatchingAttachment : public EventLoop::Attachment {
 public:
  WatchingAttachment(EventLoop& loop, int fd, bool* destroyed_cleanly)
      : loop_(loop), fd_(fd), destroyed_cleanly_(destroyed_cleanly) {
    watching_ = loop_.Watch(fd_, EPOLLIN, [](uint32_t) {});
  }
  ~WatchingAttachment() override {
    // Modify fails once the epoll set is closed.
    *destroyed_cleanly_ = watching_ && loop_.Modify(fd_, EPOLLIN | EPOLLOUT);
    loop_.Unwatch(fd_);
  }

 private:
  EventLoop& loop_;
  int fd_;
  bool* destroyed_cleanly_;
  bool watching_ = false;
};

TEST(EventLoopAttachments, AreFoundByKeyAndDestroyedFirstWithTheLoop) {
  static const char kKey = 0;
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  bool destroyed_cleanly = false;
  {
    EventLoop loop;
    ASSERT_TRUE(loop.Init().ok());
    EXPECT_EQ(loop.FindAttachment(&kKey), nullptr);
    auto attachment = std::make_unique<WatchingAttachment>(loop, fd, &destroyed_cleanly);
    EventLoop::Attachment* raw = attachment.get();
    loop.Attach(&kKey, std::move(attachment));
    EXPECT_EQ(loop.FindAttachment(&kKey), raw);
  }
  EXPECT_TRUE(destroyed_cleanly) << "the attachment outlived the loop's epoll set";
  close(fd);
}

}  // namespace
}  // namespace flowrun
