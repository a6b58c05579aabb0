// Reading a POST /v1/chat/completions body: the fields flowrun acts on
// (model, messages, stream, stream_options.include_usage, n, and the
// pass_through fields), and the mapping of the messages to a flow's input
// (Flow::openai). Every other field is accepted and ignored. Pure
// functions; thread-safe.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "flow/flow.h"
#include "steps/step.h"

namespace flowrun {

struct ChatCall {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  nlohmann::json input = nlohmann::json::object();  // for the flow's own validation
  ModelOverrides overrides;
};

// A request refused before any step runs: a 400 (or 404 for the model)
// with the OpenAI error's param and code.
struct ChatRequestError {
  int status = 400;
  std::string message;
  std::string param;
  std::string code;
};

// The fields that do not depend on the flow; sets model, stream and
// include_usage.
std::optional<ChatRequestError> ReadChatRequest(const nlohmann::json& body, ChatCall* call);

// The messages mapped to `flow`'s input, and the request fields the flow
// passes through; sets input and overrides.
std::optional<ChatRequestError> MapChatToFlow(const nlohmann::json& body, const Flow& flow, ChatCall* call);

}  // namespace flowrun
