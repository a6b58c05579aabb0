// The limits every flow file is held to, in one place. A file over one of
// them is refused with a diagnostic that names the limit, before it can take
// unbounded memory, time or stack (a YAML alias bomb, a huge or deeply
// nested document, a flow with a million steps). Constants only.
#pragma once

#include <cstddef>
#include <string>

namespace flowrun {

// Bytes in a flow file; checked before it is read or parsed.
inline constexpr size_t kMaxFlowFileBytes = 1 << 20;
// YAML nodes (keys, values and list items) in a document, with every alias
// counted as a full copy of what it refers to.
inline constexpr size_t kMaxYamlNodes = 100000;
// Bytes of scalar text in a document, aliases expanded (the text of the file
// itself is already below kMaxFlowFileBytes; only aliases can multiply it).
inline constexpr size_t kMaxYamlTextBytes = 4 << 20;
// Mappings and lists nested inside each other, aliases expanded.
inline constexpr int kMaxYamlDepth = 64;
// Steps in one flow, nested steps included.
inline constexpr size_t kMaxFlowSteps = 1000;
// Levels of steps inside control steps (a top-level step is level 1).
inline constexpr int kMaxStepNesting = 16;
// A map's `concurrency`.
inline constexpr int kMaxMapConcurrency = 64;

// The phrase every limit's message ends with.
inline const std::string kFlowFileLimitSuffix = " (the limit for a flow file)";

// "the file is 5242880 bytes, more than 1048576 bytes (the limit for a flow file)"
inline std::string FileTooLargeMessage(unsigned long long size) {
  return "the file is " + std::to_string(size) + " bytes, more than " + std::to_string(kMaxFlowFileBytes) +
         " bytes" + kFlowFileLimitSuffix;
}

}  // namespace flowrun
