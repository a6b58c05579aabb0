// llm-stream: sends the system prompt plus history (or its own `messages`)
// to a model, streams each text delta as a chunk (unless `stream: false`),
// and stores the full text in the state (`reply`), up to max_reply_bytes:
// past it the step fails and the transfer is aborted. The call's token usage
// goes into the run's counters (and so into its step:after event), and a
// streamed answer cut by the token limit marks the run stopped_on_length.
// With the mock provider, `mock_reply` / `mock_replies` script the answer.
#include "steps/builtin_steps.h"

#include <algorithm>

#include "llm/provider_factory.h"

namespace flowrun {
namespace {

// The mock's scripted answers: one template (`mock_reply`) or a list used in
// order, one per call of the step within a run, the last repeating.
using MockScript = std::vector<Template>;

class LlmStreamStep : public Step {
 public:
  // An explicit message: its role and its content's template.
  struct Message {
    std::string role;
    Template content;
  };

  LlmStreamStep(std::shared_ptr<LlmClient> client, ChatRequest request_template,
                std::optional<Template> system, std::optional<std::vector<Message>> messages, bool stream,
                std::string output, size_t max_reply_bytes, std::string description, MockScript mock_script)
      : client_(std::move(client)),
        request_template_(std::move(request_template)),
        system_(std::move(system)),
        messages_(std::move(messages)),
        stream_(stream),
        output_(std::move(output)),
        max_reply_bytes_(max_reply_bytes),
        description_(std::move(description)),
        mock_script_(std::move(mock_script)) {}

  // Suspends the run while the model streams: deltas arrive on the run's loop.
  Task<Status> RunAsync(StepContext& context) const override {
    ChatRequest request;
    if (Status built = BuildRequest(context, &request); !built.ok()) co_return built;
    std::string reply;
    StreamStats stats;
    bool over_limit = false;
    // Built before the co_await, not inside its expression (GCC 12).
    DeltaCallback on_delta = [&](std::string_view text) {
      // Refusing a delta stops the client, which aborts its transfer
      // (the path a client hang-up takes), so memory stays bounded.
      if (over_limit || text.size() > max_reply_bytes_ - reply.size()) {
        over_limit = true;
        return false;
      }
      reply.append(text);  // an empty text is the client's flush hint; emit_chunk passes it on
      // `stream: false`: the text goes to the state only (no chunks, no flushes).
      return stream_ ? context.emit_chunk(text) : !context.scope->cancelled();
    };
    StreamContext stream{*context.loop, *context.scope, context.flow, &stats, &context.cancel};
    Status streamed = co_await client_->StreamAsync(request, std::move(on_delta), stream);
    co_return Finish(context, std::move(streamed), stats, over_limit, std::move(reply));
  }

  std::string Describe() const override { return description_; }
  std::string StreamedOutputKey() const override { return stream_ ? output_ : ""; }
  bool ReportsUsage() const override { return true; }

 private:
  Status BuildRequest(StepContext& context, ChatRequest* out) const {
    ChatRequest& request = *out;
    request = request_template_;
    if (const ModelOverrides* overrides = context.model_overrides) {
      if (overrides->temperature) request.temperature = overrides->temperature;
      if (overrides->top_p) request.top_p = overrides->top_p;
      if (overrides->max_tokens) request.max_tokens = overrides->max_tokens;
    }
    if (system_) {
      std::string system_text;
      Status rendered = system_->Render(context.state, &system_text);
      if (!rendered.ok()) return rendered;
      if (!system_text.empty()) request.messages.push_back({"system", std::move(system_text)});
    }
    if (!mock_script_.empty()) {
      // Counted per run (the run's counters), so concurrent runs never share the position.
      const int call = context.counters.step_calls[this]++;
      const Template& reply = mock_script_[std::min<size_t>(static_cast<size_t>(call), mock_script_.size() - 1)];
      std::string text;
      if (Status rendered = reply.Render(context.state, &text); !rendered.ok()) {
        return Status::Error(rendered.code(), "in the mock reply: " + rendered.message());
      }
      request.mock_reply = std::move(text);
    }
    if (messages_) {
      for (const Message& message : *messages_) {
        std::string content;
        Status rendered = message.content.Render(context.state, &content);
        if (!rendered.ok()) return rendered;
        request.messages.push_back({message.role, std::move(content)});
      }
      return Status::Ok();
    }
    const nlohmann::json& history = context.state["history"];
    if (history.is_array()) {
      for (const auto& message : history) {
        if (message.is_object() && message.value("role", nlohmann::json()).is_string() &&
            message.value("content", nlohmann::json()).is_string()) {
          request.messages.push_back({message["role"], message["content"]});
        }
      }
    }
    return Status::Ok();
  }

  Status Finish(StepContext& context, Status streamed, const StreamStats& stats, bool over_limit,
                std::string reply) const {
    context.counters.upstream_retries += stats.retries;
    // Tokens are spent (and reported) whether or not the answer was kept.
    context.counters.prompt_tokens += stats.prompt_tokens;
    context.counters.completion_tokens += stats.completion_tokens;
    if (context.report != nullptr) {
      context.report->has_usage = true;
      context.report->prompt_tokens += stats.prompt_tokens;
      context.report->completion_tokens += stats.completion_tokens;
    }
    if (stream_ && stats.finish_reason == "length") context.counters.stopped_on_length = true;
    if (over_limit) {
      streamed = Status::ResourceExhausted("the reply is over max_reply_bytes (" + std::to_string(max_reply_bytes_) + " bytes)");
    } else if (!streamed.ok() && stats.fault != StreamFault::kCancelled) {
      ++context.counters.upstream_errors;
    }
    // A partial reply stays visible in the state even when the stream failed.
    context.state[output_] = std::move(reply);
    return streamed;
  }

  std::shared_ptr<LlmClient> client_;
  ChatRequest request_template_;
  std::optional<Template> system_;
  std::optional<std::vector<Message>> messages_;  // nullopt: send the history
  bool stream_;
  std::string output_;
  size_t max_reply_bytes_;
  std::string description_;
  MockScript mock_script_;
};

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
  return Status::Ok();
}

std::unique_ptr<Step> MakeLlmStreamStep(const StepConfig& config, const StepEnvironment& environment,
                                        Status* error) {
  const auto& params = config.params;
  if (config.templates.count("mock_reply") != 0 && config.template_lists.count("mock_replies") != 0) {
    *error = Status::InvalidArgument("step '" + config.id + "' has both mock_reply and mock_replies; give one of them");
    return nullptr;
  }
  if (Status checked = CheckRetryParams(params); !checked.ok()) {
    *error = checked;
    return nullptr;
  }
  ChatRequest request;
  request.model = params.at("model");
  if (params.contains("temperature")) request.temperature = params.at("temperature").get<double>();
  if (params.contains("top_p")) request.top_p = params.at("top_p").get<double>();
  if (params.contains("max_tokens")) request.max_tokens = params.at("max_tokens").get<int>();
  std::optional<Template> system;
  if (auto found = config.templates.find("system"); found != config.templates.end()) {
    system = found->second;
  }
  std::optional<std::vector<LlmStreamStep::Message>> messages;
  if (params.contains("messages")) {
    messages.emplace();
    const auto& roles = params.at("messages");
    for (size_t i = 0; i < roles.size(); ++i) {
      messages->push_back({roles[i].get<std::string>(), config.templates.at("messages[" + std::to_string(i) + "]")});
    }
  }
  std::string why;
  ProviderSettings settings = ChooseProvider(config.params, environment.getenv, &why);
  std::shared_ptr<LlmClient> client = environment.make_llm_client(settings);
  if (!client) {
    *error = Status::Internal("cannot create the '" + settings.provider + "' provider");
    return nullptr;
  }
  std::string description = client->Describe();
  if (settings.provider != "mock") description += ", model " + request.model;
  // A script is for the mock only: with a real model the flow runs as written.
  MockScript mock_script;
  if (settings.provider == "mock") {
    if (auto found = config.templates.find("mock_reply"); found != config.templates.end()) {
      mock_script.push_back(found->second);
    } else if (auto list = config.template_lists.find("mock_replies"); list != config.template_lists.end()) {
      mock_script = list->second;
    }
    if (mock_script.size() == 1) description += ", scripted reply";
    if (mock_script.size() > 1) description += ", " + std::to_string(mock_script.size()) + " scripted replies";
  }
  description += why;
  return std::make_unique<LlmStreamStep>(std::move(client), std::move(request), std::move(system),
                                         std::move(messages), params.at("stream").get<bool>(), params.at("output"),
                                         params.at("max_reply_bytes").get<size_t>(), std::move(description),
                                         std::move(mock_script));
}

}  // namespace

StepType LlmStreamStepType() {
  StepType type;
  type.name = "llm-stream";
  type.description = "Streams a chat completion for the system prompt plus history; stores the text in `output`.";
  type.params = {
      {"model", ParamType::kString, false, "gpt-4o-mini", "model name sent to the provider", {}},
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
       "openai, anthropic, ollama: requests per answer; faults before the first token (refused, 429, 5xx) are retried", {}},
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
      {"mock_reply", ParamType::kTemplate, false, nullptr,
       "mock provider: the answer, a template over the state (default: it echoes the last user message)", {}},
      {"mock_replies", ParamType::kTemplateList, false, nullptr,
       "mock provider: answers used in order, one per call of this step in a run; the last repeats", {}},
      {"max_reply_bytes", ParamType::kInteger, false, 4194304,
       "largest reply kept, in bytes; past it the step fails and the model transfer is aborted", {}},
      {"output", ParamType::kString, false, "reply", "state key that receives the full text", {}},
      {"stream", ParamType::kBoolean, false, true,
       "false: the text goes to the state only, no chunks reach the client", {}},
      {"messages", ParamType::kMessages, false, nullptr,
       "[{role, content}]: sent instead of the history (content is a template; system still comes first)", {}},
  };
  type.factory = MakeLlmStreamStep;
  return type;
}

}  // namespace flowrun
