// Task<T>, CancelScope and the loop awaitables: results and exceptions flow
// to awaiters, roots report and free themselves, sleeps run on an
// EventLoop's timers and a cancelled scope cuts them short.
#include "core/task.h"

#include <gtest/gtest.h>

#include <thread>

#include "core/cancel_scope.h"
#include "core/loop_awaitables.h"

namespace flowrun {
namespace {

using std::chrono::milliseconds;

Task<int> Add(int a, int b) { co_return a + b; }

Task<int> Sum(int n) {
  int total = 0;
  for (int i = 1; i <= n; ++i) {
    const int next = co_await Add(total, i);
    total = next;
  }
  co_return total;
}

Task<int> Throws() {
  throw std::runtime_error("boom");
  co_return 0;
}

Task<std::string> Catches() {
  try {
    const int value = co_await Throws();
    co_return std::to_string(value);
  } catch (const std::exception& error) {
    co_return std::string("caught ") + error.what();
  }
}

TEST(Task, ResultsAndExceptionsReachTheAwaiter) {
  std::optional<int> sum;
  StartTask<int>(Sum(1000), [&](std::optional<int> value, std::exception_ptr) { sum = value; });
  EXPECT_EQ(sum, 500500) << "a synchronous chain completes at once, without deep recursion";
  std::optional<std::string> caught;
  StartTask<std::string>(Catches(), [&](std::optional<std::string> value, std::exception_ptr) { caught = value; });
  EXPECT_EQ(caught, "caught boom");
  std::exception_ptr error;
  StartTask<int>(Throws(), [&](std::optional<int>, std::exception_ptr e) { error = e; });
  EXPECT_TRUE(error != nullptr);
}

TEST(Task, AnUnstartedTaskIsFreedWithoutRunning) {
  bool ran = false;
  auto body = [&]() -> Task<void> {
    ran = true;
    co_return;
  };
  { Task<void> never = body(); }
  EXPECT_FALSE(ran);
}

TEST(CancelScope, CancellingAParentCancelsChildrenAndRunsCallbacksOnce) {
  CancelScope run;
  CancelScope branch(run);
  CancelScope step(branch);
  int fired = 0;
  step.OnCancel([&] { ++fired; });
  const auto removed = branch.OnCancel([&] { fired += 100; });
  branch.RemoveCallback(removed);
  run.Cancel("client disconnected");
  run.Cancel("second reason");
  EXPECT_TRUE(step.cancelled());
  EXPECT_EQ(step.reason(), "client disconnected");
  EXPECT_EQ(fired, 1);
  CancelScope late(run);
  EXPECT_TRUE(late.cancelled()) << "a child of a cancelled scope starts cancelled";
  int at_once = 0;
  EXPECT_EQ(late.OnCancel([&] { ++at_once; }), 0u);
  EXPECT_EQ(at_once, 1);
}

TEST(CancelScope, ChildrenMayEndBeforeTheirParent) {
  CancelScope run;
  { CancelScope step(run); }
  run.Cancel("x");  // must not touch the destroyed child
  EXPECT_TRUE(run.cancelled());
}

Task<std::vector<bool>> SleepTwice(EventLoop& loop, CancelScope& scope) {
  std::vector<bool> results;
  const bool first = co_await Sleep(loop, milliseconds(5), &scope);
  results.push_back(first);
  const bool second = co_await Sleep(loop, milliseconds(60000), &scope);
  results.push_back(second);
  const bool third = co_await Sleep(loop, milliseconds(5), &scope);
  results.push_back(third);
  co_return results;
}

TEST(LoopAwaitables, SleepsRunOnTimersAndACancelledScopeCutsThemShort) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  CancelScope scope;
  std::optional<std::vector<bool>> results;
  const auto start = std::chrono::steady_clock::now();
  loop.Post([&] {
    StartTask<std::vector<bool>>(SleepTwice(loop, scope), [&](std::optional<std::vector<bool>> value, std::exception_ptr) {
      results = value;
      loop.Stop();
    });
    // Cancel while the second (one minute) sleep waits.
    loop.After(milliseconds(30), [&] { scope.Cancel("stop"); });
  });
  std::thread runner([&] { loop.Run(); });
  runner.join();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(*results, (std::vector<bool>{true, false, false}));
  EXPECT_LT(ms, 10000) << "the cancelled sleep did not wait its minute";
}

TEST(LoopAwaitables, YieldLetsQueuedWorkRunFirst) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  std::vector<std::string> order;
  auto body = [&]() -> Task<void> {
    order.push_back("task start");
    co_await Yield(loop);
    order.push_back("task resumed");
  };
  loop.Post([&] {
    loop.Post([&] { order.push_back("posted"); });  // queued before the task yields
    StartTask(body(), [&](std::exception_ptr) { loop.Stop(); });
  });
  loop.Run();
  EXPECT_EQ(order, (std::vector<std::string>{"task start", "posted", "task resumed"}));
}

}  // namespace
}  // namespace flowrun
