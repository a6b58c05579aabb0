// The coroutine frame cache: freed frames are reused by size class, the
// per-thread cache is bounded, large frames bypass it, and a frame may be
// freed on another thread.
#include "core/frame_allocator.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/task.h"

namespace flowrun {
namespace {

TEST(FrameAllocator, AFreedFrameIsReusedForTheSameSizeClass) {
  if (!FrameCacheEnabled()) GTEST_SKIP() << "the cache is off under the sanitizers";
  void* first = AllocateFrame(1000);
  const size_t before = CachedFrameBytes();
  FreeFrame(first, 1000);
  EXPECT_EQ(CachedFrameBytes(), before + 1024);
  void* second = AllocateFrame(990);  // the same 64-byte class
  EXPECT_EQ(second, first);
  EXPECT_EQ(CachedFrameBytes(), before);
  FreeFrame(second, 990);
}

TEST(FrameAllocator, TheCacheIsBoundedAndLargeFramesBypassIt) {
  if (!FrameCacheEnabled()) GTEST_SKIP() << "the cache is off under the sanitizers";
  std::vector<void*> frames;
  for (int i = 0; i < 3000; ++i) frames.push_back(AllocateFrame(1024));
  for (void* frame : frames) FreeFrame(frame, 1024);
  EXPECT_LE(CachedFrameBytes(), kMaxCachedFrameBytesPerThread);
  EXPECT_GE(CachedFrameBytes(), kMaxCachedFrameBytesPerThread - 1024);
  const size_t full = CachedFrameBytes();
  void* large = AllocateFrame(kMaxCachedFrameBytes + 1);
  FreeFrame(large, kMaxCachedFrameBytes + 1);
  EXPECT_EQ(CachedFrameBytes(), full);
}

TEST(FrameAllocator, AFrameFreedOnAnotherThreadJoinsThatThreadsCache) {
  void* frame = AllocateFrame(512);
  size_t cached_there = 0;
  std::thread other([&] {
    FreeFrame(frame, 512);
    cached_there = CachedFrameBytes();
  });
  other.join();
  EXPECT_EQ(cached_there, FrameCacheEnabled() ? 512u : 0u);
}

Task<int> Add(int a, int b) { co_return a + b; }

Task<int> Sum(int n) {
  int total = 0;
  for (int i = 0; i < n; ++i) {
    int value = co_await Add(total, 1);
    total = value;
  }
  co_return total;
}

TEST(FrameAllocator, TasksAllocateTheirFramesThroughIt) {
  std::optional<int> result;
  size_t cached = 0;
  std::thread fresh([&] {  // a thread whose cache starts empty
    StartTask(Sum(1000), [&](std::optional<int> value, std::exception_ptr) { result = value; });
    cached = CachedFrameBytes();
  });
  fresh.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, 1000);
  EXPECT_EQ(cached > 0, FrameCacheEnabled()) << "finished frames go to the cache (when it is on)";
}

}  // namespace
}  // namespace flowrun
