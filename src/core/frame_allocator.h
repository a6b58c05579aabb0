// Memory for coroutine frames (Task's promise allocates through here): a
// small per-thread cache of freed frames by size class, so a run's steps,
// blocks and model calls recycle frames instead of taking malloc's slow path
// each time (many frames are larger than glibc's per-thread cache serves).
// Sizes up to kMaxCachedFrameBytes are rounded up to 64 bytes; each thread
// keeps at most kMaxCachedFrameBytesPerThread of freed frames, the rest goes
// back to the system. A frame may be freed on another thread than the one
// that allocated it (it then joins that thread's cache). Thread-safe: the
// caches are thread_local. Under AddressSanitizer and ThreadSanitizer the
// cache is off (plain operator new/delete), so they still see every frame;
// FLOWRUN_FRAME_CACHE=0 in the environment turns it off too.
#pragma once

#include <cstddef>

namespace flowrun {

inline constexpr size_t kMaxCachedFrameBytes = 4096;
inline constexpr size_t kMaxCachedFrameBytesPerThread = 1 << 20;

void* AllocateFrame(size_t size);
void FreeFrame(void* frame, size_t size) noexcept;

// For tests: how many bytes of freed frames this thread holds, and whether
// the cache is on in this build (off under the sanitizers).
size_t CachedFrameBytes();
bool FrameCacheEnabled();

}  // namespace flowrun
