// RunBlockingOnLoop: the blocking Stream/StreamWithStats of a provider that
// streams natively on a loop (StreamAsync), for callers on an ordinary
// thread (custom steps, tests). The call runs on `loop` while the calling
// thread sleeps until it ends; the caller's Cancellation is bridged onto
// the call's CancelScope there (looked at every 100 ms by one ticker per
// loop). Deltas reach `on_delta` on the loop thread. Internal to llm/.
// Thread-safe: any thread that is not `loop`'s.
#pragma once

#include <functional>

#include "core/cancellation.h"
#include "core/event_loop.h"
#include "core/status.h"
#include "core/task.h"
#include "llm/llm_client.h"

namespace flowrun {

// `call` starts the asynchronous call on the loop with the delta callback
// and context to use (it must return at its first suspension, as a Task
// does). Everything referenced must outlive this function, which returns
// once the call has ended.
using AsyncStreamCall = std::function<Task<Status>(DeltaCallback on_delta, StreamContext context)>;
Status RunBlockingOnLoop(EventLoop& loop, const Cancellation& cancel, const DeltaCallback& on_delta,
                         StreamStats* stats, const AsyncStreamCall& call);

}  // namespace flowrun
