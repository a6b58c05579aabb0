// The per-thread frame cache (frame_allocator.h): one singly linked free
// list per 64-byte size class, threaded through the freed frames themselves.
#include "core/frame_allocator.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

namespace flowrun {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kCacheFrames = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kCacheFrames = false;
#else
constexpr bool kCacheFrames = true;
#endif
#else
constexpr bool kCacheFrames = true;
#endif

constexpr size_t kGranule = 64;
constexpr size_t kClasses = kMaxCachedFrameBytes / kGranule;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so it stays usable while the thread exits: once
// the drainer below has run, frames freed later go straight back.
struct FrameCache {
  std::array<FreeBlock*, kClasses> heads{};
  size_t bytes = 0;
  bool draining = false;
  bool drainer_registered = false;
};

thread_local FrameCache cache;

// Returns a thread's cached frames to the system when the thread ends.
struct Drainer {
  ~Drainer() {
    cache.draining = true;
    for (FreeBlock*& head : cache.heads) {
      while (head != nullptr) {
        FreeBlock* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
    cache.bytes = 0;
  }
};

thread_local Drainer drainer;

void* Take(size_t rounded) {
  FreeBlock*& head = cache.heads[rounded / kGranule - 1];
  if (head == nullptr) return ::operator new(rounded);
  FreeBlock* block = head;
  head = block->next;
  cache.bytes -= rounded;
  return block;
}

void Give(void* memory, size_t rounded) noexcept {
  if (cache.draining || cache.bytes + rounded > kMaxCachedFrameBytesPerThread) {
    ::operator delete(memory);
    return;
  }
  if (!cache.drainer_registered) {
    cache.drainer_registered = true;
    static_cast<void>(&drainer);  // odr-use: constructs it, so its destructor runs at thread exit
  }
  auto* block = static_cast<FreeBlock*>(memory);
  FreeBlock*& head = cache.heads[rounded / kGranule - 1];
  block->next = head;
  head = block;
  cache.bytes += rounded;
}

size_t Rounded(size_t size) { return (size + kGranule - 1) / kGranule * kGranule; }

// FLOWRUN_FRAME_CACHE=0 turns the cache off (for measuring what it is worth).
const bool kEnabled = [] {
  const char* setting = std::getenv("FLOWRUN_FRAME_CACHE");
  return kCacheFrames && !(setting != nullptr && std::strcmp(setting, "0") == 0);
}();

}  // namespace

void* AllocateFrame(size_t size) {
  if (size > kMaxCachedFrameBytes) return ::operator new(size);
  // Always the whole size class, so any block of a class may be cached and reused.
  const size_t rounded = Rounded(size == 0 ? 1 : size);
  return kEnabled ? Take(rounded) : ::operator new(rounded);
}

void FreeFrame(void* frame, size_t size) noexcept {
  if (frame == nullptr) return;
  if (!kEnabled || size > kMaxCachedFrameBytes) {
    ::operator delete(frame);
    return;
  }
  Give(frame, Rounded(size == 0 ? 1 : size));
}

size_t CachedFrameBytes() { return cache.bytes; }

bool FrameCacheEnabled() { return kEnabled; }

}  // namespace flowrun
