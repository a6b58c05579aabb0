// The SSE side of a run: framing, heartbeats, disconnect detection, stats.
#include "server/stream_session.h"

#include "flow/runner.h"
#include "server/sse.h"

namespace flowrun {

StreamOutcome StreamFlow(const Flow& flow, const nlohmann::json& input, const StreamSettings& settings,
                         StreamWriter& writer, Cancellation& cancel) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point started = Clock::now();
  Clock::time_point last_write = started;
  StreamOutcome outcome;
  uint64_t next_id = 1;
  bool writable = true;
  auto write = [&](const std::string& bytes) {
    writable = writable && writer.Write(bytes);
    last_write = Clock::now();
    return writable;
  };
  // Runs while the model is quiet: keeps proxies from cutting an idle
  // stream, and notices a client that has gone without waiting for a token.
  cancel.SetProbe([&] {
    if (writable && Clock::now() - last_write >= settings.heartbeat) write(SseHeartbeat());
    return writable && writer.ClientConnected();
  });
  RunResult result = RunFlow(flow, input, [&](const Event& event) {
    const bool step_event = event.type == Event::Type::kStepBefore || event.type == Event::Type::kStepAfter;
    if (step_event && !settings.all_events) return true;
    if (event.type == Event::Type::kChunk && writable) {
      if (outcome.chunks++ == 0) {
        outcome.first_chunk_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      }
    }
    return write(FormatSseEvent(event, next_id++));
  }, cancel);
  cancel.SetProbe(nullptr);
  outcome.ok = result.ok && writable;
  outcome.client_gone = !writable;
  if (outcome.client_gone) outcome.gone_reason = writer.GoneReason();
  outcome.error = result.error;
  outcome.error_step = result.error_step;
  outcome.counters = result.counters;
  outcome.reply = result.state.value("reply", nlohmann::json());
  outcome.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return outcome;
}

}  // namespace flowrun
