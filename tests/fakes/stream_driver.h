// DriveStream: runs a response's stream task to its end on a private event
// loop of the calling thread, writing to `writer` — how tests exercise
// FlowService streams without sockets or run loops. Test code only.
#pragma once

#include <exception>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/flow_control.h"
#include "core/task.h"
#include "server/http_types.h"

namespace flowrun::testing {

inline bool DriveStream(const HttpResponse& response, StreamWriter& writer) {
  if (!response.stream) return false;
  EventLoop loop;
  if (!loop.Init().ok()) return false;
  CancelScope scope;
  FlowControl flow;
  bool done = false;
  std::exception_ptr failure;
  // Started inside Run(), as on a run loop: what the task sets up (a
  // transfer, timers) is then seen by the loop's next wait.
  loop.Post([&] {
    StartTask(response.stream(StreamRun{loop, writer, scope, flow}), [&](std::exception_ptr error) {
      failure = error;
      done = true;
      loop.Stop();
    });
  });
  loop.Run();
  if (failure) std::rethrow_exception(failure);
  return true;
}

}  // namespace flowrun::testing
