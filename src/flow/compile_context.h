// Internal to the flow compiler: shared helpers for reporting problems at
// a ConfigNode's position, and the step compiler that turns `steps:` lists
// (and the blocks nested in control steps) into the flow's tree. One
// context and one StepCompiler per compile, used by the thread that
// compiles (it writes to that compile's Diagnostics).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "core/diagnostics.h"
#include "core/edit_distance.h"
#include "flow/flow.h"
#include "steps/step_registry.h"

namespace flowrun {

struct CompileContext {
  Diagnostics& diagnostics;
  const StepRegistry& registry;
  const StepEnvironment& environment;

  void ErrorAt(const SourceLocation& where, std::string message) const {
    diagnostics.Error(where, std::move(message));
  }
  void WarnAt(const SourceLocation& where, std::string message) const {
    diagnostics.Warning(where, std::move(message));
  }
  // "unknown key 'x'; did you mean 'y'?" for each key not in `allowed`.
  void CheckKeys(const ConfigNode& mapping, const std::vector<std::string>& allowed,
                 const std::string& what) const {
    for (const auto& [key, value] : mapping.entries) {
      bool known = false;
      for (const auto& name : allowed) known = known || name == key;
      if (!known) ErrorAt(value.key_where, "unknown key '" + key + "' in " + what + DidYouMean(key, allowed));
    }
  }
};

// Where a block of steps is compiled.
struct BlockScope {
  std::string path;  // the block's path: "" at the top, "triage/then"
  int depth = 1;     // the nesting level of its steps (1: top level)
  // Names templates and expressions may read here: input, history, every
  // key a step of the flow writes, and what the enclosing steps add (loop,
  // a map's item, error in on_error).
  std::vector<std::string> roots;
};

class StepCompiler {
 public:
  StepCompiler(const CompileContext& context, Flow& flow) : context_(context), flow_(flow) {}

  // The flow's top-level `steps:`.
  void CompileAll(const ConfigNode& steps);

 private:
  // step_compiler.cpp
  std::vector<FlowStep> CompileBlock(const ConfigNode& list, const BlockScope& scope, const std::string& what);
  std::optional<FlowStep> CompileStep(const ConfigNode& item, size_t index, const BlockScope& scope,
                                      std::set<std::string>& ids);
  // `what` names the mapping in messages; empty: a step's (whose common
  // keys, id, type, if, ..., are allowed too).
  bool CompileParams(const ConfigNode& item, const StepType& step_type, const BlockScope& scope,
                     StepConfig& config, const std::string& what = "");
  void CheckAllowed(const ParamSpec& param, const ConfigNode& node);
  void CompileTemplateList(const std::string& name, const ConfigNode& list, const BlockScope& scope,
                           StepConfig& config);
  void CompileMessages(const ConfigNode& node, const BlockScope& scope, StepConfig& config);
  void CompileValues(const std::string& name, const ConfigNode& node, const BlockScope& scope, StepConfig& config);
  std::shared_ptr<const StepValue> CompileValue(const std::string& name, const ConfigNode& node,
                                                const BlockScope& scope);
  void CollectWrites(const ConfigNode& steps, int depth);

  // model_compiler.cpp: llm-stream's output_schema, tools and mock answers.
  void CompileSchemaParam(const std::string& name, const ConfigNode& node, StepConfig& config);
  std::shared_ptr<const CompiledSchema> CompileSchema(const std::string& name, const ConfigNode& node);
  void CompileTools(const ConfigNode& list, const BlockScope& scope, StepConfig& config);
  std::optional<ToolConfig> CompileTool(const ConfigNode& item, size_t index, const BlockScope& scope,
                                        const StepConfig& step);
  void CompileMockTurn(const std::string& name, const ConfigNode& node, const BlockScope& scope, StepConfig& config,
                       std::vector<std::shared_ptr<const StepValue>>* list);

  // policy_compiler.cpp
  void CompilePolicy(const ConfigNode& item, const BlockScope& scope, FlowStep& step);

  // control_compiler.cpp
  bool CompileControl(const ConfigNode& item, const StepConfig& config, const BlockScope& scope, FlowStep& step);
  bool CompileSwitch(const ConfigNode& item, const BlockScope& scope, FlowStep& step, ControlSpec& spec);
  bool CompileMap(const ConfigNode& item, const StepConfig& config, const BlockScope& scope, FlowStep& step,
                  ControlSpec& spec);
  bool CompileValues(const ConfigNode& values, const BlockScope& scope, ControlSpec& spec, bool state_keys);
  // A nested block of `step`, appended to step.blocks; `extra_roots` are
  // the names it may read besides the scope's.
  void AddBlock(const ConfigNode& list, const std::string& name, const BlockScope& scope, FlowStep& step,
                const std::vector<std::string>& extra_roots = {});

  // template_checks.cpp
  std::optional<Template> CompileTemplate(const std::string& name, const ConfigNode& node, const BlockScope& scope);
  std::optional<expr::Expression> CompileExpression(const std::string& name, const ConfigNode& node,
                                                    const BlockScope& scope);

  const CompileContext& context_;
  Flow& flow_;
  std::vector<std::string> written_;  // every state key some step of the flow writes
  size_t step_count_ = 0;
};

// Compiles the `steps:` list into `flow.steps`, checking templates against
// the declared inputs.
void CompileSteps(const ConfigNode& steps, const CompileContext& context, Flow& flow);

// Where in the file an offset into a scalar's text lands: exact on
// one-line scalars, the value's start otherwise (block scalars fold lines).
SourceLocation OffsetLocation(const ConfigNode& node, const std::string& text, size_t offset, int length);

}  // namespace flowrun
