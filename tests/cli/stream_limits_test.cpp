// The default --max-streams follows descriptors and memory, not threads.
#include "cli/stream_limits.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

constexpr long long kGiB = 1024LL * 1024 * 1024;

TEST(StreamLimits, DescriptorsBoundTheDefaultOnAMachineWithMemoryToSpare) {
  // These machines: a hard limit of 20000 descriptors, 24 GiB.
  EXPECT_EQ(MaxStreamsFor(20000, 24 * kGiB), 9872u);
  EXPECT_GE(MaxStreamsFor(20000, 24 * kGiB), 8000u) << "the issue's floor for these machines";
  EXPECT_EQ(MaxStreamsFor(1024, 24 * kGiB), 384u);
}

TEST(StreamLimits, MemoryBoundsItOnASmallMachine) {
  // An eighth of 512 MiB at 64 KiB a stream.
  EXPECT_EQ(MaxStreamsFor(1 << 20, kGiB / 2), 1024u);
}

TEST(StreamLimits, NeverZeroAndUnknownMemoryLeavesDescriptorsToDecide) {
  EXPECT_EQ(MaxStreamsFor(100, 24 * kGiB), 1u);
  EXPECT_EQ(MaxStreamsFor(1024, 0), 384u);
}

}  // namespace
}  // namespace flowrun
