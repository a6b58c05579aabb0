// Step: one unit of work in a flow. A Step object is built once when a flow
// is loaded and then shared, read-only, by every concurrent run (on several
// loop threads): Run() must not modify the Step, only the per-run state it
// is handed. A step is either synchronous (override Run: it completes at
// once, on the run's loop, so it must not block) or suspendable (override
// RunAsync: a task the run's loop resumes, e.g. after a model's tokens).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/cancel_scope.h"
#include "core/cancellation.h"
#include "core/event_loop.h"
#include "core/flow_control.h"
#include "core/status.h"
#include "core/task.h"

namespace flowrun {

class Step;

// Counts a run keeps; steps add to them. One per run, never shared between
// runs: a step whose behaviour depends on how often it ran in this run
// (llm-stream's mock_replies) counts its calls in `step_calls`.
struct RunCounters {
  int upstream_retries = 0;  // for metrics
  int upstream_errors = 0;   // for metrics
  // Token usage summed over the run's model calls (0 where an upstream
  // reports none), and whether a model step that streamed to the client
  // stopped on its token limit (finish_reason "length").
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  bool stopped_on_length = false;
  std::map<const Step*, int> step_calls;  // calls so far in this run, by step (only steps that count)
};

// Sampling settings a run's caller may impose on every model step of the
// run (the OpenAI facade's pass_through fields); unset ones leave the step's
// own. Plain values.
struct ModelOverrides {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> max_tokens;
};

// What a step tells the run about itself beyond chunks and the state, for
// its step:after event (and the run's usage by step). Filled by the step.
struct StepReport {
  bool has_usage = false;  // a model step: its own tokens (also added to RunCounters)
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  // The tool calls it ran: {id, name, arguments, ok, duration_ms} each (null: none).
  nlohmann::json tools;
};

// Side events a model step sends while it runs, only when its run's
// consumer wants step events (?events=all, run --events): reasoning text,
// {"text"}; a tool call, {id, name, arguments}; its result, {id, name,
// result | error, duration_ms}.
enum class StepNote { kReasoning, kToolCall, kToolResult };
using StepNoteSink = std::function<void(StepNote note, const nlohmann::json& detail)>;

// Runs a flow loaded beside this one (a `flow:` tool) with `input`, which
// it validates against that flow's inputs, in the calling step's scope and
// without streaming to the client; `*state` receives its final state.
using FlowCaller =
    std::function<Task<Status>(const std::string& flow, nlohmann::json input, nlohmann::json* state)>;

// What a step sees of the run it belongs to. Owned by the runner.
struct StepContext {
  const std::string& step_id;
  nlohmann::json& state;  // the run's state: {"input": ..., "history": [...], "reply": ...}
  const Cancellation& cancel;
  // Streams a piece of text to the consumer; false when the consumer is gone.
  // An empty text sends nothing but tells the consumer to flush what it holds.
  std::function<bool(std::string_view text)> emit_chunk;
  RunCounters& counters;
  // The loop the run is pinned to, the step's cancel scope (a child of the
  // run's), and the consumer's backlog. Set by the runner.
  EventLoop* loop = nullptr;
  CancelScope* scope = nullptr;
  FlowControl* flow = nullptr;
  // Set by the runner when the run's caller overrides sampling settings.
  const ModelOverrides* model_overrides = nullptr;
  // Set by the runner: where the step reports (always), side events (empty
  // when nobody wants them) and calls of other flows.
  StepReport* report = nullptr;
  StepNoteSink note = nullptr;
  FlowCaller call_flow = nullptr;
};

class Step {
 public:
  virtual ~Step() = default;
  // A synchronous step overrides this.
  virtual Status Run(StepContext& /*context*/) const { return Status::Error("this step cannot run synchronously"); }
  // A suspendable step overrides this; the default runs Run() and completes at once.
  virtual Task<Status> RunAsync(StepContext& context) const { co_return Run(context); }
  // One line for start-up logs (e.g. which model provider it uses); may be empty.
  virtual std::string Describe() const { return ""; }
  // The state key where the step stores the text it streams as chunks (e.g.
  // llm-stream's `output`); empty for a step that streams nothing it keeps.
  virtual std::string StreamedOutputKey() const { return ""; }
  // True for a step that calls a model (llm-stream): it reports its token
  // usage (StepReport), which its step:after event carries.
  virtual bool ReportsUsage() const { return false; }
};

}  // namespace flowrun
