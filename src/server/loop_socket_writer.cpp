// The loop-owned client socket of a stream (loop_socket_writer.h).
#include "server/loop_socket_writer.h"

#include <sys/epoll.h>

#include <cstdio>

namespace flowrun {

LoopSocketWriter::LoopSocketWriter(EventLoop& loop, int fd, Limits limits, FlowControl& flow, CancelScope& scope)
    : loop_(loop), fd_(fd), limits_(limits), flow_(flow), scope_(scope) {
  // A hang-up ends the run at once, without waiting for a write to fail.
  watched_ = loop_.Watch(fd_, EPOLLRDHUP, [this](uint32_t events) { OnEvents(events); });
  if (!watched_) Gone("client disconnected");
}

LoopSocketWriter::~LoopSocketWriter() {
  loop_.CancelTimer(write_timer_);
  if (watched_) loop_.Unwatch(fd_);
}

bool LoopSocketWriter::WriteRaw(std::string_view bytes) {
  if (gone_) return false;
  if (out_.size() - out_start_ > limits_.max_buffered) {
    Gone("client stopped reading (write timed out)");
    return false;
  }
  if (out_start_ == out_.size()) {
    if (!Send(bytes)) return false;
  } else {
    out_.append(bytes);
  }
  AfterChange();
  return !gone_;
}

bool LoopSocketWriter::Write(std::string_view payload) {
  if (payload.empty()) return !gone_;  // an empty chunk would end the body
  char size[24];
  const int length = std::snprintf(size, sizeof(size), "%zx\r\n", payload.size());
  frame_.assign(size, static_cast<size_t>(length));
  frame_.append(payload);
  frame_.append("\r\n");
  return WriteRaw(frame_);
}

// Sends what the socket takes now; keeps the rest. False once gone.
bool LoopSocketWriter::Send(std::string_view bytes) {
  const ssize_t sent = SendNow(fd_, bytes.data(), bytes.size());
  if (sent < 0) {
    Gone("client disconnected");
    return false;
  }
  bytes.remove_prefix(static_cast<size_t>(sent));
  if (!bytes.empty()) {
    out_.assign(bytes);
    out_start_ = 0;
    progress_.Start(fd_);
  }
  return true;
}

void LoopSocketWriter::SendKept() {
  const ssize_t sent = SendNow(fd_, out_.data() + out_start_, out_.size() - out_start_);
  if (sent < 0) {
    Gone("client disconnected");
    return;
  }
  if (sent > 0) progress_.Sent();
  out_start_ += static_cast<size_t>(sent);
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  }
}

void LoopSocketWriter::OnEvents(uint32_t events) {
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    Gone("client disconnected");
    return;
  }
  if ((events & EPOLLOUT) != 0) {
    SendKept();
    AfterChange();
  }
}

// Keeps the watch, the timer, the flow control and a drain waiter in step
// with what is kept.
void LoopSocketWriter::AfterChange() {
  const bool waiting = !gone_ && out_start_ < out_.size();
  SetWatching(waiting);
  if (waiting) {
    ArmWriteTimer();
  } else {
    loop_.CancelTimer(write_timer_);
    write_timer_ = 0;
  }
  if (flow_.backlogged() != waiting) flow_.SetBacklogged(waiting);
  if (!waiting && drain_waiter_) {
    auto waiter = std::exchange(drain_waiter_, nullptr);
    loop_.Post([waiter] { waiter.resume(); });
  }
}

void LoopSocketWriter::SetWatching(bool writable) {
  if (!watched_ || writable == watching_out_) return;
  watching_out_ = writable;
  loop_.Modify(fd_, EPOLLRDHUP | (writable ? EPOLLOUT : 0u));
}

void LoopSocketWriter::ArmWriteTimer() {
  if (write_timer_ != 0) return;
  write_timer_ = loop_.After(limits_.write_timeout, [this] {
    write_timer_ = 0;
    OnWriteTimer();
  });
}

void LoopSocketWriter::OnWriteTimer() {
  if (gone_ || out_start_ == out_.size()) return;
  // The client acknowledged data (the kernel's queue shrank): progress.
  progress_.Look(fd_);
  const auto idle = progress_.Idle();
  if (idle >= limits_.write_timeout) {
    Gone("client stopped reading (write timed out)");
    return;
  }
  write_timer_ = loop_.After(
      std::chrono::ceil<std::chrono::milliseconds>(limits_.write_timeout - idle), [this] {
        write_timer_ = 0;
        OnWriteTimer();
      });
}

void LoopSocketWriter::Gone(const std::string& reason) {
  if (gone_) return;
  gone_ = true;
  gone_reason_ = reason;
  out_.clear();
  out_start_ = 0;
  loop_.CancelTimer(write_timer_);
  write_timer_ = 0;
  if (watched_) {
    loop_.Unwatch(fd_);
    watched_ = false;
  }
  // Producers waiting for the backlog to clear must not wait for ever.
  if (flow_.backlogged()) flow_.SetBacklogged(false);
  scope_.Cancel("client disconnected");
  if (drain_waiter_) {
    auto waiter = std::exchange(drain_waiter_, nullptr);
    loop_.Post([waiter] { waiter.resume(); });
  }
}

}  // namespace flowrun
