// The default --max-streams of `serve`: what descriptors and memory allow
// (streams hold no thread). Pure functions of their arguments, plus one
// that reads this process's limits; thread-safe.
#pragma once

#include <cstddef>

namespace flowrun {

// What one open stream costs: two descriptors (the client's socket and the
// upstream's), and memory: the run, its SSE buffers and its curl handle
// (bench/README.md measures ~10-30 KiB; this leaves room for bursts).
inline constexpr long long kDescriptorsPerOpenStream = 2;
inline constexpr long long kBytesPerStream = 64 * 1024;
// Descriptors kept for everything else: listener, loops, curl's own, logs, flow files.
inline constexpr long long kDescriptorReserve = 256;

// (open_file_limit - 256) / 2, and at most an eighth of `memory_bytes` at
// 64 KiB a stream; at least 1. 9872 with a limit of 20000 descriptors.
size_t MaxStreamsFor(long long open_file_limit, long long memory_bytes);

// MaxStreamsFor this process's soft open-file limit and the machine's memory.
size_t DefaultMaxStreams();

}  // namespace flowrun
