// File-descriptor headroom: whether the process can still open a few more
// descriptors (checked with dups of one reserve descriptor: no /proc scan),
// the message for running out, and process-wide counts of the streams that
// were refused or failed for lack of descriptors (for /metrics), with a
// rate-limited warning in the log. Thread-safe.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>

namespace flowrun {

// What a stream needs beyond its client socket: the upstream socket, plus
// slack for a name lookup and the next accepted connection.
inline constexpr int kDescriptorsPerStream = 3;

// True when `count` (at most 8) more descriptors can be opened now. Costs
// 2*count system calls (fcntl F_DUPFD_CLOEXEC and close), about a microsecond.
bool HaveDescriptorHeadroom(int count);

// Opens the reserve descriptor the checks dup, while descriptors are
// plentiful (serve start-up); HaveDescriptorHeadroom does it on first use.
void PrepareDescriptorChecks();

inline bool IsDescriptorExhaustion(int error) { return error == EMFILE || error == ENFILE; }

// The process's open-file limit (RLIMIT_NOFILE, soft), 0 if unknown.
uint64_t OpenFileLimit();

// "the server is out of file descriptors (open-file limit 1024)".
std::string OutOfDescriptorsMessage();

enum class DescriptorShortage { kAdmission, kUpstream };

// Counts one stream refused at admission or failed on the upstream side,
// and logs a warning with what to do (at most once a second).
void NoteDescriptorShortage(DescriptorShortage where);
uint64_t DescriptorShortages(DescriptorShortage where);

}  // namespace flowrun
