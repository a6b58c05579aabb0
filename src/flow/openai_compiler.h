// Compiles a flow file's `openai:` block into Flow::openai (flow.h): the
// model id, `openai: false`, pass_through and the messages-to-input map.
// Internal to the flow compiler; reports into the compile's diagnostics.
// Thread-safe as the compiler is (one compile per thread).
#pragma once

#include <string>
#include <vector>

#include "core/config_node.h"
#include "flow/compile_context.h"
#include "flow/flow.h"

namespace flowrun {

// Request fields a flow may let through to its model steps.
extern const std::vector<std::string> kOpenAiPassThroughFields;
// What `openai.input` may map an input to: the last user message's text,
// the messages before it, every message, the system messages' text.
extern const std::vector<std::string> kOpenAiInputSources;

// Needs flow.input compiled first (the map names its inputs).
void CompileOpenAi(const ConfigNode& node, const CompileContext& context, Flow& flow);

}  // namespace flowrun
