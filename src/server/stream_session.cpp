// The SSE side of a run: framing, heartbeats, disconnect detection, stats.
#include "server/stream_session.h"

#include "flow/runner.h"
#include "server/sse.h"

namespace flowrun {
namespace {

constexpr size_t kMaxPendingBytes = 64 * 1024;
// What chunks may wait here for a lagging client before they go to the
// writer regardless (whose own limit then ends the stream): a safety net for
// a producer that ignores flow control; one that honours it stays far below.
constexpr size_t kMaxHeldBytes = 4 * kMaxPendingBytes;

}  // namespace

StreamOutcome StreamFlow(const Flow& flow, const nlohmann::json& input, const StreamSettings& settings,
                         StreamWriter& writer, Cancellation& cancel) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  Clock::time_point last_write = started;
  StreamOutcome outcome;
  uint64_t next_id = 1;
  int last_chunk_step = -1;  // the index of the last step that streamed a chunk
  bool writable = true;
  // Chunks wait here until the model has nothing more ready (a flush hint),
  // so a burst of tokens leaves in one send instead of one each.
  std::string pending;
  // A client that lags behind makes the upstream loop stop reading for it
  // (flow control) instead of flowrun holding ever more.
  auto note_backlog = [&] { cancel.SetConsumerBacklogged(writable && writer.Backlogged()); };
  Clock::time_point pending_since;
  auto flush = [&] {
    if (!pending.empty()) {
      writable = writable && writer.Write(pending);
      last_write = Clock::now();
      pending.clear();
      note_backlog();
    }
    return writable;
  };
  // Chunks (and heartbeats) also wait here while the writer still keeps
  // bytes the client has not taken, rather than piling onto them: the
  // writer then never holds more than one flush, and what waits here is
  // bounded because flow control has paused the upstream meanwhile. Other
  // events are written at once (by the worker, which waits for the client).
  auto flush_chunks = [&] {
    if (!writer.Backlogged() || pending.size() > kMaxHeldBytes) return flush();
    note_backlog();
    return writable;
  };
  // Runs while the model is quiet: sends what waits (for clients that give
  // no flush hints), keeps proxies from cutting an idle stream, and notices
  // a client that has gone without waiting for a token (unless an event
  // loop watches the client's socket for that already).
  cancel.SetHangupSocket(writer.ClientSocket());
  cancel.SetProbe([&] {
    writable = writable && writer.Flush();
    note_backlog();
    // The probe also runs between the tokens of one burst: flush only what
    // has waited a while (a model that never hints), not every token.
    if (!pending.empty() && Clock::now() - pending_since >= std::chrono::milliseconds(10)) flush_chunks();
    if (writable && pending.empty() && Clock::now() - last_write >= settings.heartbeat) {
      pending = SseHeartbeat();
      pending_since = Clock::now();
      flush_chunks();
    }
    return writable && (cancel.hangup_watched() || writer.ClientConnected());
  });
  RunResult result = RunFlow(flow, input, [&](const Event& event) {
    switch (event.type) {
      case Event::Type::kStepBefore:
      case Event::Type::kStepAfter:
        if (!settings.all_events) return writable;
        break;
      case Event::Type::kChunk:
        last_chunk_step = event.index;
        if (outcome.chunks++ == 0) {
          outcome.first_chunk_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
        }
        if (pending.empty()) pending_since = Clock::now();
        AppendSseEvent(event, next_id++, pending);
        // A long burst leaves in sends of this size rather than all at once,
        // so what is held in memory stays small.
        if (pending.size() >= kMaxPendingBytes) return flush_chunks();
        return writable;
      default:
        break;
    }
    AppendSseEvent(event, next_id++, pending);
    return flush();
  }, cancel, [&] { flush_chunks(); });
  cancel.SetProbe(nullptr);
  cancel.SetHangupSocket(-1);
  outcome.ok = result.ok && writable;
  outcome.client_gone = !writable;
  if (outcome.client_gone) outcome.gone_reason = writer.GoneReason();
  outcome.error = result.error;
  outcome.error_step = result.error_step;
  outcome.counters = result.counters;
  // The reply is what the client was streamed last: the output of the last
  // step that sent chunks (null when no step did).
  if (last_chunk_step >= 0 && static_cast<size_t>(last_chunk_step) < flow.steps.size()) {
    const std::string key = flow.steps[last_chunk_step].step->StreamedOutputKey();
    if (!key.empty() && result.state.is_object()) outcome.reply = result.state.value(key, nlohmann::json());
  }
  outcome.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return outcome;
}

}  // namespace flowrun
