// Descriptor headroom checks and shortage counts.
#include "core/descriptors.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

#include "core/log.h"

namespace flowrun {
namespace {

std::mutex g_reserve_mutex;
std::atomic<int> g_reserve{-1};
std::atomic<uint64_t> g_admission{0};
std::atomic<uint64_t> g_upstream{0};
std::atomic<int64_t> g_last_warning_ms{-1000000};

// The descriptor to dup, opened on first use; -1 (and the errno in
// `*error`) when it cannot be opened.
int Reserve(int* error) {
  int fd = g_reserve.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  std::lock_guard<std::mutex> lock(g_reserve_mutex);
  fd = g_reserve.load(std::memory_order_relaxed);
  if (fd < 0) {
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    *error = errno;
    if (fd >= 0) g_reserve.store(fd, std::memory_order_release);
  }
  return fd;
}

}  // namespace

void PrepareDescriptorChecks() {
  int ignored = 0;
  Reserve(&ignored);
}

bool HaveDescriptorHeadroom(int count) {
  int error = 0;
  const int reserve = Reserve(&error);
  // Could not open the reserve: out of descriptors, or no /dev/null (then
  // nothing can be told; do not refuse work for it).
  if (reserve < 0) return !IsDescriptorExhaustion(error);
  int taken[8];
  int opened = 0;
  bool enough = true;
  for (; opened < std::min(count, 8); ++opened) {
    taken[opened] = fcntl(reserve, F_DUPFD_CLOEXEC, 0);
    if (taken[opened] < 0) {
      enough = !IsDescriptorExhaustion(errno);
      break;
    }
  }
  for (int i = 0; i < opened; ++i) close(taken[i]);
  return enough;
}

uint64_t OpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<uint64_t>(limit.rlim_cur);
}

std::string OutOfDescriptorsMessage() {
  const uint64_t limit = OpenFileLimit();
  return "the server is out of file descriptors" +
         (limit > 0 ? " (open-file limit " + std::to_string(limit) + ")" : std::string());
}

void NoteDescriptorShortage(DescriptorShortage where) {
  (where == DescriptorShortage::kAdmission ? g_admission : g_upstream).fetch_add(1, std::memory_order_relaxed);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  int64_t last = g_last_warning_ms.load(std::memory_order_relaxed);
  if (now_ms - last < 1000 || !g_last_warning_ms.compare_exchange_strong(last, now_ms)) return;
  LogWarn(OutOfDescriptorsMessage() + (where == DescriptorShortage::kAdmission
                                            ? ": new streams get 503; raise the limit (ulimit -n) or lower --max-streams"
                                            : ": an upstream connection could not be opened; raise the limit (ulimit -n)"));
}

uint64_t DescriptorShortages(DescriptorShortage where) {
  return (where == DescriptorShortage::kAdmission ? g_admission : g_upstream).load(std::memory_order_relaxed);
}

}  // namespace flowrun
