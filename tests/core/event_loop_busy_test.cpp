// EventLoop::Busy(): the share of wall time a loop spends working rather
// than waiting, which the SSE session reads to coalesce writes only under
// load. Run on this thread; bounds are wide enough for a loaded machine.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include "core/event_loop.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

void Spin(milliseconds how_long) {
  const auto until = Clock::now() + how_long;
  while (Clock::now() < until) {
  }
}

// Runs `loop` for `total`, calling `tick` from a timer every `period`.
void RunTicking(EventLoop& loop, milliseconds period, milliseconds total, std::function<void()> tick) {
  const auto end = Clock::now() + total;
  std::function<void()> arm;
  arm = [&] {
    loop.After(period, [&] {
      tick();
      if (Clock::now() >= end) {
        loop.Stop();
      } else {
        arm();
      }
    });
  };
  arm();
  loop.Run();
}

TEST(EventLoopBusyTest, AnIdleLoopIsNotBusy) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  EXPECT_EQ(loop.Busy(), 0.0) << "before it ever ran";
  RunTicking(loop, milliseconds(20), milliseconds(300), [] {});
  EXPECT_LT(loop.Busy(), 0.3) << "a loop that waits 20 ms between empty timers reads as busy";
}

TEST(EventLoopBusyTest, ALoopThatNeverWaitsIsBusy) {
  EventLoop loop;
  ASSERT_TRUE(loop.Init().ok());
  // Each callback works 10 ms, and the next is due 1 ms later.
  RunTicking(loop, milliseconds(1), milliseconds(300), [] { Spin(milliseconds(10)); });
  EXPECT_GT(loop.Busy(), 0.7) << "a loop that works 10 ms of every 11 reads as idle";
}

}  // namespace
}  // namespace flowrun
