// The SSE side of a run, on its loop: framing, batching, heartbeats, stats.
#include "server/stream_session.h"

#include "flow/runner.h"
#include "server/sse.h"

namespace flowrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxPendingBytes = 64 * 1024;
// What chunks may wait here for a lagging client before they go to the
// writer regardless (whose own limit then ends the stream): a safety net for
// a producer that ignores flow control; one that honours it stays far below.
constexpr size_t kMaxHeldBytes = 4 * kMaxPendingBytes;
// Chunks without a flush hint from their producer go out after this long.
constexpr std::chrono::milliseconds kUnhintedFlush{10};
// Coalescing under load. On a loop busier than kCoalesceLoad (EventLoop::
// Busy), a stream past its first chunk keeps a hinted flush until it holds
// kCoalesceChunks chunks, or for at most kCoalesceMax: one send then carries
// two tokens, which halves the sends of flowrun and the reads of its client
// exactly when the CPU is short. An idle loop flushes every hint at once.
constexpr double kCoalesceLoad = 0.5;
constexpr int kCoalesceChunks = 2;
constexpr std::chrono::milliseconds kCoalesceMax{50};
constexpr size_t kCoalesceBytes = 16 * 1024;

// The state of one stream's writing side; lives in StreamFlow's frame.
class Session {
 public:
  Session(const StreamSettings& settings, StreamRun run)
      : settings_(settings), run_(run), encoder_(settings.encoder.get()) {}
  ~Session() {
    *alive_ = false;  // a WhenClear callback still queued must not reach this
    run_.loop.CancelTimer(heartbeat_timer_);
    run_.loop.CancelTimer(flush_timer_);
  }

  bool writable() const { return writable_; }

  void Start() {
    started_ = Clock::now();
    last_write_ = started_;
    ArmHeartbeat(settings_.heartbeat);
    if (encoder_ != nullptr) {
      encoder_->Begin(pending_);
      Flush();
    }
  }

  bool OnEvent(const Event& event) {
    if (encoder_ != nullptr) return OnEncodedEvent(event);
    switch (event.type) {
      case Event::Type::kStepBefore:
      case Event::Type::kStepAfter:
      case Event::Type::kReasoning:
      case Event::Type::kToolCall:
      case Event::Type::kToolResult:
        if (!settings_.all_events) return writable_;
        break;
      case Event::Type::kChunk:
        CountChunk();
        AppendSseEvent(event, next_id_++, pending_, settings_.all_events ? ChunkForm::kObject : ChunkForm::kText);
        // A long burst leaves in writes of this size rather than all at once.
        if (pending_.size() >= kMaxPendingBytes) return FlushChunks();
        return writable_;
      default:
        break;
    }
    AppendSseEvent(event, next_id_++, pending_, settings_.all_events ? ChunkForm::kObject : ChunkForm::kText);
    return Flush();
  }

  // The producer has nothing more ready now (see kCoalesceLoad).
  bool OnFlushHint() {
    if (held_chunks_ < kCoalesceChunks && outcome_.chunks > 1 && flush_timer_ != 0 &&
        pending_.size() < kCoalesceBytes && run_.loop.Busy() >= kCoalesceLoad) {
      return writable_;  // the flush timer sends it if no chunk comes first
    }
    return FlushChunks();
  }

  // Chunks wait while the writer still keeps bytes the client has not
  // taken, rather than piling onto them; they go once it has caught up.
  bool FlushChunks() {
    if (!run_.writer.Backlogged() || pending_.size() > kMaxHeldBytes) return Flush();
    if (!waiting_for_room_) {
      waiting_for_room_ = true;
      run_.flow.WhenClear([this, alive = alive_] {
        if (!*alive) return;
        waiting_for_room_ = false;
        FlushChunks();
      });
    }
    return writable_;
  }

  // With an encoder: its last bytes once the run is over; starts the
  // response first when its head waited for them.
  void Finish(const RunResult& result) {
    if (encoder_ == nullptr) return;
    StreamEncoder::End end = encoder_->Finish(result, pending_);
    if (run_.start_response) {
      run_.start_response(end.status, end.content_type);
      outcome_.status = end.status;
      outcome_.head_waited = true;
    }
    Flush();
  }

  StreamOutcome& outcome() { return outcome_; }
  Clock::time_point started() const { return started_; }

 private:
  bool OnEncodedEvent(const Event& event) {
    switch (event.type) {
      case Event::Type::kChunk:
        CountChunk();
        encoder_->Chunk(event.text, pending_);
        if (pending_.size() >= kMaxPendingBytes) return FlushChunks();
        return writable_;
      case Event::Type::kError:
        encoder_->Error(event, pending_);
        return Flush();
      default:
        return writable_;  // step events are not part of it; done comes with Finish
    }
  }

  void CountChunk() {
    if (outcome_.chunks++ == 0) {
      outcome_.first_chunk_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    }
    ++held_chunks_;
    if (pending_.empty() && flush_timer_ == 0) {
      const auto after = run_.loop.Busy() >= kCoalesceLoad ? kCoalesceMax : kUnhintedFlush;
      flush_timer_ = run_.loop.After(after, [this] {
        flush_timer_ = 0;
        FlushChunks();
      });
    }
  }

  bool Flush() {
    if (!pending_.empty()) {
      writable_ = writable_ && run_.writer.Write(pending_);
      last_write_ = Clock::now();
      pending_.clear();
    }
    held_chunks_ = 0;
    run_.loop.CancelTimer(flush_timer_);
    flush_timer_ = 0;
    return writable_;
  }

  // Keeps proxies from cutting an idle stream.
  void ArmHeartbeat(std::chrono::milliseconds after) {
    heartbeat_timer_ = run_.loop.After(std::max(after, std::chrono::milliseconds(1)), [this] {
      heartbeat_timer_ = 0;
      const auto quiet = Clock::now() - last_write_;
      if (quiet >= settings_.heartbeat && writable_) {
        if (pending_.empty()) pending_ = encoder_ != nullptr ? encoder_->Heartbeat() : SseHeartbeat();
        FlushChunks();
        ArmHeartbeat(settings_.heartbeat);
      } else {
        ArmHeartbeat(std::chrono::ceil<std::chrono::milliseconds>(settings_.heartbeat - quiet));
      }
    });
  }

  const StreamSettings& settings_;
  StreamRun run_;
  StreamOutcome outcome_;
  std::string pending_;
  uint64_t next_id_ = 1;
  int held_chunks_ = 0;  // chunks in pending_
  bool writable_ = true;
  bool waiting_for_room_ = false;
  Clock::time_point started_;
  Clock::time_point last_write_;
  EventLoop::TimerId heartbeat_timer_ = 0;
  EventLoop::TimerId flush_timer_ = 0;
  StreamEncoder* encoder_;  // null: AppendSseEvent
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

Task<StreamOutcome> StreamFlow(const Flow& flow, nlohmann::json input, StreamSettings settings, StreamRun run) {
  Session session(settings, run);
  session.Start();
  EventSink sink = [&session](const Event& event) { return session.OnEvent(event); };
  FlushHint flush = [&session] { return session.OnFlushHint(); };
  // Built outside the co_await expression: GCC 12 may destroy a temporary
  // there twice (the library's reference would be released twice).
  RunEnvironment environment{run.loop, run.scope, &run.flow, std::move(flush), nullptr, settings.library};
  environment.model_overrides = &settings.model_overrides;
  environment.step_events = settings.encoder == nullptr && settings.all_events;  // else OnEvent drops them
  Task<RunResult> run_task = RunFlowAsync(flow, std::move(input), std::move(sink), std::move(environment));
  RunResult result = co_await run_task;
  session.Finish(result);
  StreamOutcome outcome = std::move(session.outcome());
  const bool writable = session.writable() && run.writer.ClientConnected();
  outcome.ok = result.ok && writable;
  outcome.client_gone = !writable;
  if (outcome.client_gone) outcome.gone_reason = run.writer.GoneReason();
  outcome.error = result.error;
  outcome.error_step = result.error_step;
  outcome.counters = result.counters;
  outcome.step_tokens = std::move(result.step_tokens);
  // The reply is what the client was streamed last: the output of the last
  // step that sent chunks (null when no step did).
  outcome.reply = std::move(result.streamed_output);
  outcome.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - session.started()).count();
  co_return outcome;
}

}  // namespace flowrun
