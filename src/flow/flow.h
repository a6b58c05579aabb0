// Flow: a loaded, ready-to-run flow — a tree of steps. A leaf step holds a
// Step object (append-message, llm-stream, custom types); a control step
// (set, if, switch, loop, parallel, map, call, fail) holds its compiled
// parameters and nested blocks of steps, which the runner interprets.
// Immutable once built and shared by all concurrent runs (held by
// shared_ptr<const Flow>), so a reload can swap in a new version while
// running streams finish on the old one. Read-only, so any number of
// threads may use one Flow at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/diagnostics.h"
#include "expr/expression.h"
#include "flow/flow_graph.h"
#include "flow/input_schema.h"
#include "flow/value_template.h"
#include "steps/step.h"
#include "templates/template.h"

namespace flowrun {

struct FlowStep;

// A nested list of steps, named as in a step's path: "then", "else",
// "cases.<key>", "default", "steps" (loop, map), "branches.<name>", "on_error".
struct FlowBlock {
  std::string name;
  std::vector<FlowStep> steps;
};

// What every step may add: `if`, `timeout_ms`, `retry`, `on_error`.
struct StepPolicy {
  enum class OnError { kFail, kContinue, kSteps };

  std::optional<expr::Expression> condition;  // `if:`: skip the step unless it holds
  int64_t timeout_ms = 0;                     // 0: none
  int max_attempts = 1;                       // retry.max_attempts (1: no retry)
  int64_t backoff_ms = 0;                     // retry.backoff_ms, before each retry
  OnError on_error = OnError::kFail;
  int fallback_block = -1;  // kSteps: the index of the "on_error" block in FlowStep::blocks
};

enum class ControlKind { kNone, kSet, kIf, kSwitch, kLoop, kParallel, kMap, kCall, kFail };

// A control step's parameters. Blocks live in FlowStep::blocks; the
// indices below point there.
struct ControlSpec {
  ControlKind kind = ControlKind::kNone;
  // set: values; call: input. In order: a set value sees the ones before it.
  std::vector<std::pair<std::string, ValueTemplate>> values;
  // if: when; switch: on; loop: until; map: over.
  std::optional<expr::Expression> expression;
  // if: then is block 0, else (when has_else) block 1.
  bool has_else = false;
  // switch: case keys in file order (block i is "cases.<key>"); default after them.
  std::vector<std::string> case_keys;
  int default_block = -1;
  // loop
  int max_iterations = 0;
  bool fail_on_limit = false;
  // parallel: `stream: interleave` (several branches may stream at once)
  bool interleave = false;
  // map
  std::string as = "item";
  int concurrency = 1;
  std::optional<expr::Expression> collect;
  // map: the list of collected values; call: the called flow's state (or one value)
  std::string output;
  // call
  std::string flow;
  std::string output_from;  // empty: the whole state
  // fail
  std::optional<Template> message;
};

struct FlowStep {
  std::string id;
  std::string type;
  std::string path;    // "research/branches.summary/draft"
  int index = 0;       // position in its block, 0-based
  SourceLocation where;  // the step's `type` value
  std::unique_ptr<Step> step;                  // leaf steps
  std::shared_ptr<const ControlSpec> control;  // control steps
  std::vector<FlowBlock> blocks;               // nested blocks (the on_error block last)
  StepPolicy policy;
  // It never waits: a set, if, switch or fail without timeout_ms, retry or
  // on_error steps, whose nested steps never wait either. The runner calls
  // it as a plain function, with no task of its own (set by the compiler).
  bool direct = false;

  bool IsControl() const { return control != nullptr; }
};

// The flow's `openai:` block: how it shows as a model at
// /v1/chat/completions. Defaults: exposed under its name, nothing passed
// through, the last user message to `message` and the messages before it to
// `history` (each only when the flow declares that input).
struct OpenAiSpec {
  bool exposed = true;     // `openai: false` opts out
  std::string model;       // the model id; empty: the flow's name
  std::vector<std::string> pass_through;  // request fields that reach the model steps
  // input name -> source (see kOpenAiInputSources); empty: the default mapping
  std::vector<std::pair<std::string, std::string>> input;
};

struct Flow {
  std::string file;  // where it was loaded from ("" when from a string)
  std::string name;
  std::string endpoint;  // POST path, e.g. "/chat"
  std::string description;
  InputSchema input;
  std::vector<FlowStep> steps;
  // Its `call` steps, for the checks that need the flows beside it
  // (CheckCalls): the flow named, where, that source line's text, and
  // whether the call runs only on some paths (under an if, a case, a
  // fallback, or with its own `if:`).
  struct CallSite {
    std::string step;
    std::string flow;
    SourceLocation where;
    std::string line;
    bool conditional = false;
  };
  std::vector<CallSite> calls;
  OpenAiSpec openai;
  std::shared_ptr<const FlowGraph> graph;  // its picture (flowrun graph, the playground); never null once loaded
};

// The id a flow answers to at /v1 (its openai.model, else its name).
inline std::string OpenAiModelId(const Flow& flow) { return flow.openai.model.empty() ? flow.name : flow.openai.model; }

}  // namespace flowrun
