// CancelScope: one node of a run's cancellation tree (run > branch > step).
// Cancelling a scope cancels its children too; callbacks registered with
// OnCancel run once, at the moment of cancellation (they abort a transfer,
// cancel a timer, post a resumption — they must not resume a coroutine
// inline or destroy scopes). No I/O, no locks: a scope belongs to the loop
// thread its run is pinned to; another thread cancels by posting there.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace flowrun {

class CancelScope {
 public:
  using CallbackId = uint64_t;

  CancelScope() = default;
  // A child: cancelled with `parent` (at once, if the parent already is).
  explicit CancelScope(CancelScope& parent) : parent_(&parent) {
    parent.children_.push_back(this);
    if (parent.cancelled_) Cancel(parent.reason_);
  }
  ~CancelScope() {
    if (parent_ != nullptr) {
      auto& siblings = parent_->children_;
      siblings.erase(std::remove(siblings.begin(), siblings.end(), this), siblings.end());
    }
    for (CancelScope* child : children_) child->parent_ = nullptr;
  }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

  // The first reason wins. Children first, then this scope's callbacks.
  void Cancel(const std::string& reason) {
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = reason;
    const std::vector<CancelScope*> children = children_;
    for (CancelScope* child : children) child->Cancel(reason);
    auto callbacks = std::move(callbacks_);
    callbacks_.clear();
    for (auto& [id, callback] : callbacks) callback();
  }

  bool cancelled() const { return cancelled_; }
  const std::string& reason() const { return reason_; }

  // Runs `callback` when this scope is cancelled; at once (returning 0)
  // when it already is.
  CallbackId OnCancel(std::function<void()> callback) {
    if (cancelled_) {
      callback();
      return 0;
    }
    callbacks_.emplace_back(++next_id_, std::move(callback));
    return next_id_;
  }
  void RemoveCallback(CallbackId id) {
    if (id == 0) return;
    std::erase_if(callbacks_, [id](const auto& entry) { return entry.first == id; });
  }

 private:
  CancelScope* parent_ = nullptr;
  std::vector<CancelScope*> children_;
  std::vector<std::pair<CallbackId, std::function<void()>>> callbacks_;
  CallbackId next_id_ = 0;
  bool cancelled_ = false;
  std::string reason_;
};

}  // namespace flowrun
