// The llm-stream step at run time (its parameters and factory are in
// llm_stream.cpp). One step may take several model calls: tool rounds (the
// model asks for tools, their results go back, it answers again, up to
// max_tool_rounds) and, with an output_schema, answers that failed
// validation sent back with the errors (up to max_attempts answers). Built
// once per flow load; shared read-only by concurrent runs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llm/llm_client.h"
#include "steps/model_tools.h"
#include "steps/step.h"
#include "steps/step_registry.h"
#include "templates/template.h"

namespace flowrun {

struct LlmStreamSpec {
  // An explicit message: its role and its content's template.
  struct Message {
    std::string role;
    Template content;
  };
  // A scripted mock answer: its value, and whether it was written as a
  // mapping ({text, json, tool_calls, reasoning}) rather than a template.
  struct MockTurn {
    std::shared_ptr<const StepValue> value;
    bool mapping = false;
  };

  std::shared_ptr<LlmClient> client;
  ChatRequest request;  // model, sampling, tools and output_schema as the model is told
  std::optional<Template> system;
  std::optional<std::vector<Message>> messages;  // nullopt: send the history
  bool stream = true;
  std::string output;
  std::string reasoning_output;  // "" when reasoning is not stored
  size_t max_reply_bytes = 0;
  std::string description;
  std::vector<MockTurn> mock_script;  // used in order, one per model call of the step in a run; the last repeats
  std::shared_ptr<const CompiledSchema> output_schema;  // null: the answer is text
  int schema_attempts = 1;                               // answers tried until one validates
  std::shared_ptr<const std::vector<ModelTool>> tools;   // null or empty: no tools
  int max_tool_rounds = 5;
};

std::unique_ptr<Step> NewLlmStreamStep(LlmStreamSpec spec);

// The scripted answer `turn` evaluated against `state`, applied to the
// request (mock_reply, mock_tool_calls, mock_reasoning).
Status ApplyMockTurn(const LlmStreamSpec::MockTurn& turn, const nlohmann::json& state, ChatRequest* request);

}  // namespace flowrun
