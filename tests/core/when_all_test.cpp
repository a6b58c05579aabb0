// WhenAll: tasks run together on one loop, at most `concurrency` at a
// time, results in index order, exceptions rethrown after all finished,
// long synchronous batches without recursion.
#include "core/when_all.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "core/event_loop.h"
#include "core/loop_awaitables.h"

namespace flowrun {
namespace {

using std::chrono::milliseconds;

struct Tracker {
  int running = 0;
  int peak = 0;
  std::vector<std::string> order;
};

// Sleeps `delay_ms` on the loop, then returns index * 10.
Task<int> Item(EventLoop& loop, Tracker& tracker, size_t index, int delay_ms) {
  ++tracker.running;
  tracker.peak = std::max(tracker.peak, tracker.running);
  tracker.order.push_back("start " + std::to_string(index));
  if (delay_ms > 0) {
    const bool slept = co_await Sleep(loop, milliseconds(delay_ms));
    (void)slept;
  }
  --tracker.running;
  tracker.order.push_back("end " + std::to_string(index));
  co_return static_cast<int>(index) * 10;
}

Task<std::vector<int>> JoinItems(EventLoop& loop, Tracker& tracker, size_t count, size_t concurrency,
                                 std::vector<int> delays) {
  WhenAll<int>::Factory make = [&loop, &tracker, delays](size_t index) {
    return Item(loop, tracker, index, delays[index % delays.size()]);
  };
  WhenAll<int> join(count, concurrency, std::move(make));
  std::vector<int> results = co_await join;
  co_return results;
}

// Drives `task` to its end on a fresh loop of this thread.
template <typename T>
std::optional<T> Drive(EventLoop& loop, Task<T> task, std::exception_ptr* error = nullptr) {
  std::optional<T> result;
  loop.Post([&] {
    StartTask<T>(std::move(task), [&](std::optional<T> value, std::exception_ptr failure) {
      result = std::move(value);
      if (error != nullptr) *error = failure;
      loop.Stop();
    });
  });
  // A deadline, so that a join that never resumes fails instead of hanging.
  loop.After(milliseconds(20000), [&] { loop.Stop(); });
  loop.Run();
  return result;
}

TEST(WhenAll, RunsTasksTogetherAndReturnsResultsInIndexOrder) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  Tracker tracker;
  const auto start = std::chrono::steady_clock::now();
  // Three tasks of 300, 100 and 200 ms together: about 300 ms, not 600.
  auto results = Drive(loop, JoinItems(loop, tracker, 3, 0, {300, 100, 200}));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(results.has_value()) << "the join never resumed";
  EXPECT_EQ(*results, (std::vector<int>{0, 10, 20}));
  EXPECT_EQ(tracker.peak, 3);
  EXPECT_EQ(tracker.order, (std::vector<std::string>{"start 0", "start 1", "start 2", "end 1", "end 2", "end 0"}));
  EXPECT_LT(elapsed, milliseconds(550)) << "the tasks did not overlap";
}

TEST(WhenAll, NeverRunsMoreThanItsConcurrency) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  Tracker tracker;
  auto results = Drive(loop, JoinItems(loop, tracker, 8, 3, {30, 10, 20}));
  ASSERT_TRUE(results.has_value()) << "the join never resumed";
  EXPECT_EQ(*results, (std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70}));
  EXPECT_EQ(tracker.peak, 3);
  EXPECT_EQ(tracker.running, 0);
  // The first three start together; each later one only after one ended.
  EXPECT_EQ(std::vector<std::string>(tracker.order.begin(), tracker.order.begin() + 4),
            (std::vector<std::string>{"start 0", "start 1", "start 2", "end 1"}));
  EXPECT_EQ(tracker.order[4], "start 3");
}

TEST(WhenAll, SynchronousTasksFinishAtOnceWithoutDeepRecursion) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  Tracker tracker;
  // 100 000 tasks that never suspend, one at a time and all at once: each
  // hands over to the next by symmetric transfer, so the stack stays flat.
  for (size_t concurrency : {size_t{1}, size_t{0}}) {
    tracker = Tracker();
    auto results = Drive(loop, JoinItems(loop, tracker, 100000, concurrency, {0}));
    ASSERT_TRUE(results.has_value()) << "the join never resumed";
    ASSERT_EQ(results->size(), 100000u);
    EXPECT_EQ(results->back(), 999990);
    EXPECT_EQ(tracker.peak, 1);
  }
}

TEST(WhenAll, AnEmptyJoinCompletesAtOnce) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  Tracker tracker;
  auto results = Drive(loop, JoinItems(loop, tracker, 0, 4, {0}));
  ASSERT_TRUE(results.has_value());
  EXPECT_TRUE(results->empty());
}

Task<int> MaybeThrow(EventLoop& loop, size_t index, int* finished) {
  const bool slept = co_await Sleep(loop, milliseconds(index == 1 ? 5 : 40));
  (void)slept;
  ++*finished;
  if (index == 1) throw std::runtime_error("item 1 failed");
  co_return 1;
}

Task<int> JoinThrowing(EventLoop& loop, int* finished) {
  WhenAll<int>::Factory make = [&loop, finished](size_t index) { return MaybeThrow(loop, index, finished); };
  WhenAll<int> join(3, 0, std::move(make));
  std::vector<int> results = co_await join;
  co_return static_cast<int>(results.size());
}

TEST(WhenAll, AnExceptionIsRethrownOnceEveryTaskHasFinished) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  int finished = 0;
  std::exception_ptr error;
  auto result = Drive(loop, JoinThrowing(loop, &finished), &error);
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(error != nullptr);
  try {
    std::rethrow_exception(error);
  } catch (const std::runtime_error& thrown) {
    EXPECT_STREQ(thrown.what(), "item 1 failed");
  }
  EXPECT_EQ(finished, 3) << "the join resumed before its other tasks ended";
}

}  // namespace
}  // namespace flowrun
