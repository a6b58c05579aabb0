// The control steps at run time: set, if, switch, loop, parallel (branches
// joined, each in its own scope, writes merged after), map (items joined a
// bounded number at a time, each in its own scope), call, fail.
#include "core/json_text.h"
#include "core/when_all.h"
#include "flow/evaluate.h"
#include "flow/interpreter.h"

namespace flowrun {
namespace {

std::string Describe(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return "a boolean";
    case nlohmann::json::value_t::object:
      return "a mapping";
    case nlohmann::json::value_t::array:
      return "a list";
    default:
      return "a number";
  }
}

// The text a switch value matches case keys by: a string as it is, anything else as JSON.
std::string CaseKey(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : DumpJson(value);
}

// The blocks that are the step's own (the on_error block, last, is not).
size_t OwnBlocks(const FlowStep& step) {
  return step.policy.fallback_block >= 0 ? step.blocks.size() - 1 : step.blocks.size();
}

// Sets `key` for the life of the object, then puts back what was there.
class ScopedKey {
 public:
  ScopedKey(nlohmann::json& state, std::string key) : state_(state), key_(std::move(key)) {
    if (auto found = state_.find(key_); found != state_.end()) saved_ = *found;
  }
  ~ScopedKey() {
    if (saved_) {
      state_[key_] = std::move(*saved_);
    } else {
      state_.erase(key_);
    }
  }
  ScopedKey(const ScopedKey&) = delete;
  ScopedKey& operator=(const ScopedKey&) = delete;

 private:
  nlohmann::json& state_;
  std::string key_;
  std::optional<nlohmann::json> saved_;
};

}  // namespace

// What the branches of a parallel block (or the items of a map) share.
struct Interpreter::Join {
  explicit Join(CancelScope& parent) : scope(parent) {}
  CancelScope scope;  // cancelled when one of them fails: the others stop
  Outcome first;      // the first failure, in time
  std::vector<nlohmann::json> states;     // parallel: each branch's own scope
  const nlohmann::json* items = nullptr;  // map: the list
  std::vector<nlohmann::json> collected;  // map: each item's `collect`
  int started = 0;

  void Failed(const Outcome& outcome, const std::string& what) {
    if (!outcome || first) return;
    first = outcome;
    scope.Cancel(what + " stopped: " + outcome->message);
  }
};

Interpreter::Outcome Interpreter::Decide(const FlowStep& step, const Frame& frame, Event& after, int* block) {
  const ControlSpec& spec = *step.control;
  nlohmann::json& state = *frame.state;
  *block = -1;
  switch (spec.kind) {
    case ControlKind::kSet:
      for (const auto& [key, value] : spec.values) {
        nlohmann::json result;
        Status status = value.Evaluate(state, &result);
        if (!status.ok()) return FailureAt(step, frame, "in '" + key + "': " + status.message());
        state[key] = std::move(result);
      }
      return std::nullopt;
    case ControlKind::kFail: {
      std::string message;
      Status status = spec.message->Render(state, &message);
      return FailureAt(step, frame, status.ok() ? message : "in 'message': " + status.message());
    }
    case ControlKind::kIf: {
      bool holds = false;
      Status status = HoldsIn(*spec.expression, state, &holds);
      if (!status.ok()) return FailureAt(step, frame, "in 'when': " + status.message());
      if (step_events()) after.branch = holds ? "then" : spec.has_else ? "else" : "none";
      if (holds || spec.has_else) *block = holds ? 0 : 1;
      return std::nullopt;
    }
    case ControlKind::kSwitch: {
      nlohmann::json value;
      Status status = EvaluateIn(*spec.expression, state, &value);
      if (!status.ok()) return FailureAt(step, frame, "in 'on': " + status.message());
      const std::string key = CaseKey(value);
      int chosen = spec.default_block;
      for (size_t i = 0; i < spec.case_keys.size(); ++i) {
        if (spec.case_keys[i] == key) chosen = static_cast<int>(i);
      }
      if (chosen < 0) return FailureAt(step, frame, "switch '" + step.id + "': no case for value " + DumpJson(key));
      if (step_events()) after.branch = chosen == spec.default_block ? "default" : key;
      *block = chosen;
      return std::nullopt;
    }
    default:
      break;
  }
  return FailureAt(step, frame, "internal error: step '" + step.id + "' does not decide at once");
}

Task<Interpreter::Outcome> Interpreter::RunControl(const FlowStep& step, Frame frame, Event& after) {
  switch (step.control->kind) {
    case ControlKind::kSet:
    case ControlKind::kFail:
    case ControlKind::kIf:
    case ControlKind::kSwitch: {
      int block = -1;
      Outcome decided = Decide(step, frame, after, &block);
      if (decided || block < 0) co_return decided;
      Outcome outcome = co_await RunBlock(step.blocks[block].steps, frame);
      co_return outcome;
    }
    case ControlKind::kLoop: {
      Outcome outcome = co_await RunLoop(step, frame, after);
      co_return outcome;
    }
    case ControlKind::kParallel: {
      Outcome outcome = co_await RunParallel(step, frame);
      co_return outcome;
    }
    case ControlKind::kMap: {
      Outcome outcome = co_await RunMap(step, frame, after);
      co_return outcome;
    }
    case ControlKind::kCall: {
      Outcome outcome = co_await RunCall(step, frame);
      co_return outcome;
    }
    case ControlKind::kNone:
      break;
  }
  co_return FailureAt(step, frame, "internal error: step '" + step.id + "' is not a control step");
}

Task<Interpreter::Outcome> Interpreter::RunLoop(const FlowStep& step, Frame frame, Event& after) {
  const ControlSpec& spec = *step.control;
  nlohmann::json& state = *frame.state;
  Outcome outcome;
  bool until_held = false;
  int count = 0;
  {
    ScopedKey loop_key(state, "loop");
    for (int i = 1; i <= spec.max_iterations && !outcome && !until_held; ++i) {
      state["loop"] = {{"index", i}, {"index0", i - 1}, {"first", i == 1}};
      Frame inner = frame;
      inner.iteration = i;
      Outcome ran = co_await RunBlock(step.blocks[0].steps, inner);
      outcome = std::move(ran);
      count = i;
      if (outcome || !spec.expression) continue;
      Status status = HoldsIn(*spec.expression, state, &until_held);
      if (!status.ok()) outcome = FailureAt(step, frame, "in 'until': " + status.message());
    }
  }
  after.iterations = count;
  if (outcome) co_return outcome;
  if (!until_held) {
    after.limit_reached = true;
    if (spec.fail_on_limit) {
      co_return FailureAt(step, frame, "loop '" + step.id + "' reached max_iterations (" +
                                           std::to_string(spec.max_iterations) + ")" +
                                           (spec.expression ? " before 'until' held" : ""));
    }
  }
  co_return std::nullopt;
}

Task<Interpreter::Outcome> Interpreter::RunBranch(const FlowBlock& block, Frame frame, Join* join) {
  Outcome outcome = co_await RunBlock(block.steps, frame);
  join->Failed(outcome, "branch '" + block.name.substr(block.name.find('.') + 1) + "'");
  co_return outcome;
}

Task<Interpreter::Outcome> Interpreter::RunParallel(const FlowStep& step, Frame frame) {
  const size_t count = OwnBlocks(step);
  Join join(*frame.scope);
  join.states.assign(count, *frame.state);  // each branch reads the state as at the block's start
  WhenAll<Outcome>::Factory make = [this, &step, frame, &join](size_t index) {
    Frame branch = frame;
    branch.state = &join.states[index];
    branch.scope = &join.scope;
    return RunBranch(step.blocks[index], branch, &join);
  };
  WhenAll<Outcome> all(count, 0, std::move(make));
  std::vector<Outcome> outcomes = co_await all;
  if (join.first) co_return join.first;
  // Each branch's writes (keys it added, changed or removed), in branch order.
  const nlohmann::json& start = *frame.state;
  nlohmann::json merged = start;
  for (const nlohmann::json& branch : join.states) {
    for (auto it = branch.begin(); it != branch.end(); ++it) {
      auto was = start.find(it.key());
      if (was == start.end() || *was != it.value()) merged[it.key()] = it.value();
    }
    for (auto it = start.begin(); it != start.end(); ++it) {
      if (!branch.contains(it.key())) merged.erase(it.key());
    }
  }
  *frame.state = std::move(merged);
  co_return std::nullopt;
}

Task<Interpreter::Outcome> Interpreter::RunMapItem(const FlowStep& step, Frame frame, size_t index, Join* join) {
  const ControlSpec& spec = *step.control;
  ++join->started;
  if (join->scope.cancelled()) co_return FailureAt(step, frame, join->scope.reason());
  const size_t count = join->items->size();
  // The item's own scope: the state as at the map's start, with the item and `loop`.
  nlohmann::json state = *frame.state;
  state[spec.as] = (*join->items)[index];
  state["loop"] = {{"index", index + 1}, {"index0", index}, {"first", index == 0},
                   {"last", index + 1 == count}, {"length", count}};
  Frame inner = frame;
  inner.state = &state;
  inner.scope = &join->scope;
  inner.iteration = static_cast<int>(index) + 1;
  Outcome outcome = co_await RunBlock(step.blocks[0].steps, inner);
  if (!outcome && spec.collect) {
    Status status = EvaluateIn(*spec.collect, state, &join->collected[index]);
    if (!status.ok()) outcome = FailureAt(step, inner, "in 'collect': " + status.message());
  }
  join->Failed(outcome, "map '" + step.id + "'");
  co_return outcome;
}

Task<Interpreter::Outcome> Interpreter::RunMap(const FlowStep& step, Frame frame, Event& after) {
  const ControlSpec& spec = *step.control;
  nlohmann::json items;
  Status status = EvaluateIn(*spec.expression, *frame.state, &items);
  if (!status.ok()) co_return FailureAt(step, frame, "in 'over': " + status.message());
  if (!items.is_array()) {
    co_return FailureAt(step, frame, "map '" + step.id + "': 'over' is " + Describe(items) + ", not a list");
  }
  Join join(*frame.scope);
  join.items = &items;
  join.collected.assign(items.size(), nullptr);
  WhenAll<Outcome>::Factory make = [this, &step, frame, &join](size_t index) {
    return RunMapItem(step, frame, index, &join);
  };
  WhenAll<Outcome> all(items.size(), static_cast<size_t>(spec.concurrency), std::move(make));
  std::vector<Outcome> outcomes = co_await all;
  after.iterations = join.started;
  if (join.first) co_return join.first;
  if (spec.collect) (*frame.state)[spec.output] = std::move(join.collected);
  co_return std::nullopt;
}

Task<Interpreter::Outcome> Interpreter::RunCall(const FlowStep& step, Frame frame) {
  const ControlSpec& spec = *step.control;
  const std::string what = "call '" + step.id + "': ";
  if (frame.calls >= kMaxCallDepth) {
    co_return FailureAt(step, frame, what + "calls nest more than " + std::to_string(kMaxCallDepth) +
                                         " deep (the limit of nested calls per run)");
  }
  std::shared_ptr<const Flow> callee = env_.library ? env_.library->Find(spec.flow) : nullptr;
  if (callee == nullptr) co_return FailureAt(step, frame, what + "no flow named '" + spec.flow + "' is loaded");
  nlohmann::json input = nlohmann::json::object();
  for (const auto& [key, value] : spec.values) {
    Status status = value.Evaluate(*frame.state, &input[key]);
    if (!status.ok()) co_return FailureAt(step, frame, what + "in input '" + key + "': " + status.message());
  }
  InputError error;
  std::optional<nlohmann::json> validated = callee->input.Validate(input, &error);
  if (!validated) co_return FailureAt(step, frame, what + "flow '" + callee->name + "': " + error.message);
  nlohmann::json state = InitialState(*validated);
  const std::string prefix = StepEvent(Event::Type::kStepAfter, step, frame).path + "/flow." + callee->name + "/";
  Frame inner = frame;
  inner.state = &state;
  inner.prefix = &prefix;
  inner.calls = frame.calls + 1;
  Outcome outcome = co_await RunBlock(callee->steps, inner);
  if (outcome) co_return outcome;
  if (spec.output.empty()) co_return std::nullopt;
  if (spec.output_from.empty()) {
    (*frame.state)[spec.output] = std::move(state);
    co_return std::nullopt;
  }
  auto found = state.find(spec.output_from);
  if (found == state.end()) {
    co_return FailureAt(step, frame, what + "flow '" + callee->name + "' left no '" + spec.output_from +
                                         "' in its state (output_from)");
  }
  (*frame.state)[spec.output] = std::move(*found);
  co_return std::nullopt;
}

}  // namespace flowrun
