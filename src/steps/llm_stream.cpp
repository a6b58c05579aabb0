// llm-stream's parameters and factory: sends the system prompt plus
// history (or its own `messages`) to a model, streams each text delta as a
// chunk (unless `stream: false`), and stores the full text in the state
// (`reply`), up to max_reply_bytes: past it the step fails and the transfer
// is aborted. With `output_schema` the answer is JSON, validated, and
// stored as an object; with `tools` the model may call them
// (llm_stream_step.cpp runs it). The calls' token usage goes into the run's
// counters and the step's report, and a streamed answer cut by the token
// limit marks the run stopped_on_length. With the mock provider,
// `mock_reply` / `mock_replies` script the answers.
#include "steps/builtin_steps.h"

#include <algorithm>
#include <cctype>

#include "llm/provider_factory.h"
#include "steps/llm_stream_step.h"

namespace flowrun {
namespace {

// The types are checked by the compiler; the ranges are checked here.
Status CheckRetryParams(const nlohmann::json& params) {
  const long attempts = params.at("max_attempts").get<long>();
  if (attempts < 1 || attempts > 100) return Status::InvalidArgument("max_attempts must be between 1 and 100");
  for (const char* name : {"retry_initial_ms", "retry_max_ms", "first_token_timeout_ms", "idle_timeout_ms"}) {
    if (params.at(name).get<long>() < 0) return Status::InvalidArgument(std::string(name) + " must not be negative");
  }
  if (params.at("connect_timeout_ms").get<long>() < 1) {
    return Status::InvalidArgument("connect_timeout_ms must be at least 1");
  }
  if (params.at("max_reply_bytes").get<long long>() < 1) {
    return Status::InvalidArgument("max_reply_bytes must be at least 1");
  }
  const long rounds = params.at("max_tool_rounds").get<long>();
  if (rounds < 1 || rounds > 100) return Status::InvalidArgument("'max_tool_rounds' must be between 1 and 100");
  return Status::Ok();
}

// The name the provider is given for the output schema: the step's id in
// the characters function names allow.
std::string SchemaName(const std::string& id) {
  std::string name;
  for (char c : id) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return name.substr(0, 64);
}

// The mock's scripted answers: one (`mock_reply`) or a list used in order.
std::vector<LlmStreamSpec::MockTurn> MockScript(const StepConfig& config) {
  std::vector<LlmStreamSpec::MockTurn> script;
  if (auto found = config.values.find("mock_reply"); found != config.values.end()) {
    script.push_back({found->second, config.params.at("mock_reply").is_object()});
  } else if (auto list = config.value_lists.find("mock_replies"); list != config.value_lists.end()) {
    const nlohmann::json& written = config.params.at("mock_replies");
    for (size_t i = 0; i < list->second.size(); ++i) {
      script.push_back({list->second[i], i < written.size() && written[i].is_object()});
    }
  }
  return script;
}

std::unique_ptr<Step> MakeLlmStreamStep(const StepConfig& config, const StepEnvironment& environment,
                                        Status* error) {
  const auto& params = config.params;
  if (params.contains("mock_reply") && params.contains("mock_replies")) {
    *error = Status::InvalidArgument("step '" + config.id + "' has both mock_reply and mock_replies; give one of them");
    return nullptr;
  }
  if (Status checked = CheckRetryParams(params); !checked.ok()) {
    *error = checked;
    return nullptr;
  }
  if (params.contains("models")) {
    for (const auto& [provider, model] : params.at("models").items()) {
      if (provider != "openai" && provider != "anthropic" && provider != "ollama") {
        *error = Status::InvalidArgument("'models' names providers (openai, anthropic, ollama), got '" + provider + "'");
        return nullptr;
      }
      if (!model.is_string() || model.get<std::string>().empty()) {
        *error = Status::InvalidArgument("'models' gives each provider a model name, got " + model.dump() + " for " +
                                         provider);
        return nullptr;
      }
    }
  }
  LlmStreamSpec spec;
  ChatRequest& request = spec.request;
  request.model = params.at("model");
  if (params.contains("temperature")) request.temperature = params.at("temperature").get<double>();
  if (params.contains("top_p")) request.top_p = params.at("top_p").get<double>();
  if (params.contains("max_tokens")) request.max_tokens = params.at("max_tokens").get<int>();
  if (auto found = config.templates.find("system"); found != config.templates.end()) spec.system = found->second;
  if (params.contains("messages")) {
    spec.messages.emplace();
    const auto& roles = params.at("messages");
    for (size_t i = 0; i < roles.size(); ++i) {
      spec.messages->push_back({roles[i].get<std::string>(), config.templates.at("messages[" + std::to_string(i) + "]")});
    }
  }
  if (auto found = config.schemas.find("output_schema"); found != config.schemas.end()) {
    spec.output_schema = found->second;
    request.output_schema = params.at("output_schema");
    request.output_schema_name = SchemaName(config.id);
  }
  // With an output_schema the answer is data for the next steps: it streams only when asked.
  spec.stream = params.contains("stream") ? params.at("stream").get<bool>() : spec.output_schema == nullptr;
  // Answers that fail validation are sent back, unless the client already saw one streamed.
  spec.schema_attempts = spec.stream ? 1 : params.at("max_attempts").get<int>();
  if (!config.tools.empty()) {
    spec.tools = BuildModelTools(config.tools, environment, error);
    if (spec.tools == nullptr) return nullptr;
    request.tools = ToolSpecs(*spec.tools);
  }
  spec.max_tool_rounds = params.at("max_tool_rounds").get<int>();
  spec.output = params.at("output");
  if (params.contains("reasoning_output")) spec.reasoning_output = params.at("reasoning_output");
  spec.max_reply_bytes = params.at("max_reply_bytes").get<size_t>();
  std::string why;
  ProviderSettings settings = ChooseProvider(config.params, environment.getenv, &why);
  spec.client = environment.make_llm_client(settings);
  if (!spec.client) {
    *error = Status::Internal("cannot create the '" + settings.provider + "' provider");
    return nullptr;
  }
  // `models` names the model per provider; `model` is for the others.
  if (auto models = params.find("models"); models != params.end()) {
    if (auto named = models->find(settings.provider); named != models->end() && named->is_string()) {
      request.model = named->get<std::string>();
    }
  }
  spec.description = spec.client->Describe();
  if (settings.provider != "mock") spec.description += ", model " + request.model;
  // A script is for the mock only: with a real model the flow runs as written.
  if (settings.provider == "mock") {
    spec.mock_script = MockScript(config);
    const size_t turns = spec.mock_script.size();
    if (turns == 1) spec.description += ", scripted reply";
    if (turns > 1) spec.description += ", " + std::to_string(turns) + " scripted replies";
  }
  if (spec.tools) spec.description += ", tools: " + params.at("tools").dump();
  spec.description += why;
  return NewLlmStreamStep(std::move(spec));
}

}  // namespace

StepType LlmStreamStepType() {
  StepType type;
  type.name = "llm-stream";
  type.description = "Streams a chat completion for the system prompt plus history; stores the text in `output`.";
  type.params = {
      {"model", ParamType::kString, false, "gpt-4o-mini", "model name sent to the provider", {}},
      {"models", ParamType::kValues, false, nullptr,
       "provider: model, e.g. {anthropic: claude-sonnet-4-5, ollama: llama3.2}; under auto a named native provider "
       "runs when its environment is set (ANTHROPIC_API_KEY; OLLAMA_HOST or OLLAMA_BASE_URL)", {}},
      {"system", ParamType::kTemplate, false, nullptr, "system prompt, a template over the state", {}},
      {"temperature", ParamType::kNumber, false, nullptr, "sampling temperature", {}},
      {"top_p", ParamType::kNumber, false, nullptr, "nucleus sampling: the probability mass to sample from", {}},
      {"max_tokens", ParamType::kInteger, false, nullptr,
       "upper bound on the reply's tokens (the mock provider stops there too)", {}},
      {"provider", ParamType::kString, false, "auto",
       "auto: openai when OPENAI_API_KEY or OPENAI_BASE_URL is set, else mock; anthropic and ollama are native",
       {"auto", "openai", "anthropic", "ollama", "mock"}},
      {"base_url", ParamType::kString, false, nullptr,
       "API root (default: OPENAI_BASE_URL, else https://api.openai.com/v1; anthropic: ANTHROPIC_BASE_URL, else "
       "https://api.anthropic.com; ollama: OLLAMA_BASE_URL, else OLLAMA_HOST, else http://localhost:11434)",
       {}},
      {"api_key_env", ParamType::kString, false, nullptr,
       "environment variable holding the API key (default: OPENAI_API_KEY; anthropic: ANTHROPIC_API_KEY; "
       "ollama: OLLAMA_API_KEY, optional)",
       {}},
      {"max_attempts", ParamType::kInteger, false, 3,
       "openai, anthropic, ollama: requests per answer; faults before the first token (refused, 429, 5xx) are "
       "retried. With output_schema (not streamed) also the answers tried until one validates", {}},
      {"retry_initial_ms", ParamType::kInteger, false, 500,
       "openai, anthropic, ollama: backoff ceiling before the first retry, doubling per retry (full jitter)", {}},
      {"retry_max_ms", ParamType::kInteger, false, 8000,
       "openai, anthropic, ollama: cap on any wait between attempts, Retry-After included", {}},
      {"first_token_timeout_ms", ParamType::kInteger, false, 60000,
       "openai, anthropic, ollama: error if no text arrives this long after a request starts (0: off)", {}},
      {"idle_timeout_ms", ParamType::kInteger, false, 30000,
       "openai, anthropic, ollama: error if the upstream sends nothing for this long once it answered (0: off)", {}},
      {"connect_timeout_ms", ParamType::kInteger, false, 10000, "openai, anthropic, ollama: TCP/TLS connect timeout", {}},
      {"mock_delay_ms", ParamType::kInteger, false, 0, "mock provider: pause before each token", {}},
      {"mock_reply", ParamType::kMockTurn, false, nullptr,
       "mock provider: the answer, a template over the state, or {text | json, tool_calls: [{name, arguments}], "
       "reasoning} (default: it echoes the last user message)", {}},
      {"mock_replies", ParamType::kMockTurns, false, nullptr,
       "mock provider: answers used in order, one per model call of this step in a run (tool rounds and schema "
       "retries count); the last repeats", {}},
      {"max_reply_bytes", ParamType::kInteger, false, 4194304,
       "largest reply kept, in bytes; past it the step fails and the model transfer is aborted", {}},
      {"output", ParamType::kString, false, "reply",
       "state key that receives the full text (with output_schema: the validated object)", {}},
      {"stream", ParamType::kBoolean, false, nullptr,
       "false: the text goes to the state only, no chunks reach the client (default: true; false with output_schema)",
       {}},
      {"output_schema", ParamType::kSchema, false, nullptr,
       "a JSON Schema: the model must answer JSON that follows it; flowrun validates it, sends the errors back "
       "(max_attempts answers in all) and stores the object in `output`", {}},
      {"tools", ParamType::kTools, false, nullptr,
       "[{name, description, parameters (a JSON Schema), http: {request, templates read args} | flow: name}]: "
       "tools the model may call", {}},
      {"max_tool_rounds", ParamType::kInteger, false, 5,
       "tool rounds at most (the model asks, the tools run, it answers again); past it the step fails", {}},
      {"reasoning_output", ParamType::kString, false, nullptr,
       "state key that receives the model's reasoning text (never part of `output`)", {}},
      {"messages", ParamType::kMessages, false, nullptr,
       "[{role, content}]: sent instead of the history (content is a template; system still comes first)", {}},
  };
  type.factory = MakeLlmStreamStep;
  return type;
}

}  // namespace flowrun
