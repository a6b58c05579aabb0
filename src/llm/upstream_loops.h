// Sizing the upstream event loops (curl_loop.h) without exposing curl to
// callers such as `flowrun serve`.
#pragma once

namespace flowrun {

// How many loop threads to start (0: one per two cores, at least one; at most 16). Takes
// effect only before the first transfer; `flowrun serve --io-threads`.
void SetUpstreamLoopCount(unsigned count);

}  // namespace flowrun
