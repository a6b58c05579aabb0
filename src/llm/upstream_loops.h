// Starting and sizing the upstream event loops (curl_loop.h) without
// exposing curl to callers such as `flowrun serve`. Thread-safe.
#pragma once

#include "core/status.h"

namespace flowrun {

// How many loop threads to start (0: one per two cores, at least one; at most 16). Takes
// effect only before the loops start; `flowrun serve --io-threads`.
void SetUpstreamLoopCount(unsigned count);

// Starts every loop now (all or none; idempotent). `serve` calls it before
// it listens and refuses to start when it fails, so no stream ever finds
// the loops missing; without it the first transfer starts them (`run`).
// The error names the loop and the cause, e.g. "cannot start upstream
// event loop 1 of 2: eventfd: Too many open files".
Status StartUpstreamLoops();

// True once the loops run (never stops being true).
bool UpstreamLoopsRunning();

}  // namespace flowrun
