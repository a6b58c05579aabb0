// LoopSocketWriter: the run loop's side of a streamed response. Once the
// response head is out, the loop the run is pinned to owns the client
// socket: it writes flowrun's own chunked framing, never waits (what the
// socket does not take now is kept and sent when it becomes writable),
// raises the run's FlowControl while bytes wait (so the model transfer
// pauses rather than piling more up), and cancels the run's scope when the
// client hangs up or takes nothing for the write timeout (write_progress.h:
// a client that keeps reading, however slowly, is never given up on).
// Loop thread only.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/cancel_scope.h"
#include "core/event_loop.h"
#include "core/flow_control.h"
#include "server/http_types.h"
#include "server/write_progress.h"

namespace flowrun {

class LoopSocketWriter : public StreamWriter {
 public:
  struct Limits {
    std::chrono::milliseconds write_timeout{30000};
    size_t max_buffered = 256 * 1024;  // a write beyond this much waiting counts the client as gone
  };

  // Watches `fd` (which stays the caller's) until destroyed.
  LoopSocketWriter(EventLoop& loop, int fd, Limits limits, FlowControl& flow, CancelScope& scope);
  ~LoopSocketWriter() override;
  LoopSocketWriter(const LoopSocketWriter&) = delete;
  LoopSocketWriter& operator=(const LoopSocketWriter&) = delete;

  // Bytes as they are (the response head, the final chunk).
  bool WriteRaw(std::string_view bytes);
  // One chunk of the body, in chunked framing. False once the client is gone.
  bool Write(std::string_view payload) override;
  bool Flush() override { return !gone_; }
  bool Backlogged() const override { return !out_.empty(); }
  bool ClientConnected() override { return !gone_; }
  int ClientSocket() const override { return fd_; }
  std::string GoneReason() const override { return gone_reason_; }
  bool gone() const { return gone_; }

  // `co_await writer.Drained()`: resumes once everything written is sent
  // (true) or the client is gone (false).
  class DrainAwaiter {
   public:
    explicit DrainAwaiter(LoopSocketWriter& writer) : writer_(writer) {}
    bool await_ready() const { return writer_.out_.empty() || writer_.gone_; }
    void await_suspend(std::coroutine_handle<> handle) { writer_.drain_waiter_ = handle; }
    bool await_resume() const { return !writer_.gone_; }

   private:
    LoopSocketWriter& writer_;
  };
  DrainAwaiter Drained() { return DrainAwaiter(*this); }

 private:
  bool Send(std::string_view bytes);
  void SendKept();
  void OnEvents(uint32_t events);
  void SetWatching(bool writable);
  void ArmWriteTimer();
  void OnWriteTimer();
  void Gone(const std::string& reason);
  void AfterChange();

  EventLoop& loop_;
  int fd_;
  Limits limits_;
  FlowControl& flow_;
  CancelScope& scope_;
  std::string out_;  // kept, in order, not yet sent
  size_t out_start_ = 0;
  bool watching_out_ = false;
  bool watched_ = false;
  bool gone_ = false;
  std::string gone_reason_;
  EventLoop::TimerId write_timer_ = 0;
  WriteProgress progress_;
  std::coroutine_handle<> drain_waiter_;
  std::string frame_;  // reused for chunk framing
};

}  // namespace flowrun
