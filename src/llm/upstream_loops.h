// The loops that carry model transfers, seen from callers such as `flowrun
// serve` without exposing curl: since runs and their transfers share one
// set of loops, these are thin wrappers over core's LoopThreads (one loop
// per core by default), and each loop gets its curl driver (curl_driver.h)
// on first use. Thread-safe.
#pragma once

#include "core/status.h"

namespace flowrun {

// How many loop threads to start (0: one per two cores, at least one; at most
// 16). Takes effect only before the loops start; `flowrun serve --io-threads`.
void SetUpstreamLoopCount(unsigned count);

// Starts every loop now (all or none; idempotent) and sets up each loop's
// curl driver. `serve` calls it before it listens and refuses to start when
// it fails, so no stream ever finds the loops missing; without it the first
// blocking transfer starts them (`run`). The error names the loop and the
// cause, e.g. "cannot start run loop 1 of 2: cannot create an event loop:
// Too many open files". A failed start may be retried.
Status StartUpstreamLoops();

// True once the loops run (never stops being true).
bool UpstreamLoopsRunning();

}  // namespace flowrun
