// The default --max-streams (stream_limits.h).
#include "cli/stream_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace flowrun {

size_t MaxStreamsFor(long long open_file_limit, long long memory_bytes) {
  const long long by_descriptors =
      std::max(1LL, (open_file_limit - kDescriptorReserve) / kDescriptorsPerOpenStream);
  const long long by_memory = memory_bytes > 0 ? std::max(1LL, memory_bytes / 8 / kBytesPerStream) : by_descriptors;
  return static_cast<size_t>(std::min(by_descriptors, by_memory));
}

size_t DefaultMaxStreams() {
  rlimit limit{};
  long long descriptors = 1024;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    descriptors = static_cast<long long>(limit.rlim_cur);
  }
  const long long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  return MaxStreamsFor(descriptors, pages > 0 && page_size > 0 ? pages * page_size : 0);
}

}  // namespace flowrun
