// What the sanitizer builds (`make asan`, `make tsan`) change for tests.
// Header only; nothing here has state.
#pragma once

// Resident memory says little under a sanitizer: AddressSanitizer
// quarantines freed memory, and ThreadSanitizer gives every byte the process
// touches shadow and metadata pages (several times its size) that stay
// resident. Tests check RSS bounds only in the plain build.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FLOWRUN_MEASURES_RSS 0
#else
#define FLOWRUN_MEASURES_RSS 1
#endif

namespace flowrun::testing {

// How many times longer a test may wait for something to happen:
// ThreadSanitizer makes flowrun and the fakes 5-15x slower in CPU, and a
// wait that covers the work on a loaded machine must cover that too. Only
// waits scale; a bound that is itself what a test checks does not.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSlowdown = 5;
#else
inline constexpr int kSlowdown = 1;
#endif

}  // namespace flowrun::testing
