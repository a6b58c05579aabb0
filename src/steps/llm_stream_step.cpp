// llm-stream at run time (llm_stream_step.h): the model calls of one step,
// its tool rounds and structured-output attempts, and what it leaves in the
// state (text or the validated object, and the reasoning when asked).
#include "steps/llm_stream_step.h"

#include <algorithm>
#include <cctype>

#include "core/json_text.h"
#include "llm/openai_wire.h"
#include "steps/http_request.h"

namespace flowrun {
namespace {

constexpr size_t kMaxSchemaErrors = 10;
constexpr int kMaxAnswerNesting = 64;

// One model call's answer.
struct Answer {
  std::string text;
  StreamStats stats;
  bool over_limit = false;
};

// `text` without surrounding whitespace and, when a model wrapped its JSON
// in a Markdown fence (```json ... ```), without the fence.
std::string_view Unfenced(std::string_view text) {
  auto trim = [](std::string_view view) {
    while (!view.empty() && std::isspace(static_cast<unsigned char>(view.front()))) view.remove_prefix(1);
    while (!view.empty() && std::isspace(static_cast<unsigned char>(view.back()))) view.remove_suffix(1);
    return view;
  };
  text = trim(text);
  if (text.size() >= 6 && text.substr(0, 3) == "```" && text.substr(text.size() - 3) == "```") {
    const size_t line_end = text.find('\n');
    if (line_end != std::string_view::npos && line_end < text.size() - 3) {
      text = trim(text.substr(line_end + 1, text.size() - 3 - line_end - 1));
    }
  }
  return text;
}

// The answer as the schema's object, or the problems with it (each naming
// its path and keyword).
nlohmann::json Structured(const std::string& answer, const CompiledSchema& schema, std::vector<std::string>* problems) {
  const std::string_view text = Unfenced(answer);
  nlohmann::json value = NestingWithin(text, kMaxAnswerNesting) ? nlohmann::json::parse(text, nullptr, false)
                                                                 : nlohmann::json(nlohmann::json::value_t::discarded);
  if (value.is_discarded()) {
    problems->push_back("$: the answer is not JSON" +
                        (text.empty() ? std::string(" (it is empty)") : ": " + Abbreviate(text, 80)));
    return nullptr;
  }
  for (const SchemaViolation& violation : Validate(schema, value, kMaxSchemaErrors)) {
    problems->push_back(FormatViolation(violation));
  }
  return value;
}

std::string Joined(const std::vector<std::string>& problems, const std::string& separator) {
  std::string out;
  for (const auto& problem : problems) out += (out.empty() ? "" : separator) + problem;
  return out;
}

std::string MockText(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.is_null() ? "" : DumpJson(value);
}

class LlmStreamStep : public Step {
 public:
  explicit LlmStreamStep(LlmStreamSpec spec) : spec_(std::move(spec)) {}

  // Suspends the run while the model streams: deltas arrive on the run's loop.
  Task<Status> RunAsync(StepContext& context) const override {
    ChatRequest request;
    if (Status built = BuildRequest(context, &request); !built.ok()) co_return built;
    std::string reply;      // the text kept: every call's text (or the last answer, with a schema)
    std::string reasoning;  // every call's reasoning
    nlohmann::json structured;
    nlohmann::json tools_log;
    int rounds = 0;
    int answers = 0;
    Status status;
    while (true) {
      if (Status scripted = Script(context, &request); !scripted.ok()) {
        status = scripted;
        break;
      }
      Answer answer;
      const size_t room = spec_.max_reply_bytes - (spec_.output_schema ? 0 : reply.size());
      Status streamed = co_await Call(context, request, room, &answer, &reasoning);
      Count(context, answer.stats);
      if (!spec_.output_schema) reply += answer.text;
      if (answer.over_limit) {
        status = Status::ResourceExhausted("the reply is over max_reply_bytes (" + std::to_string(spec_.max_reply_bytes) +
                                           " bytes)");
        break;
      }
      if (!streamed.ok()) {
        if (answer.stats.fault != StreamFault::kCancelled) ++context.counters.upstream_errors;
        status = std::move(streamed);
        break;
      }
      if (!answer.stats.tool_calls.empty()) {
        status = CheckToolRound(answer.stats.tool_calls, rounds);
        if (!status.ok()) break;
        ++rounds;
        request.messages.push_back({"assistant", answer.text, answer.stats.tool_calls});
        std::vector<ToolOutcome> outcomes = co_await RunToolCalls(*spec_.tools, answer.stats.tool_calls, context);
        if (tools_log.is_null()) tools_log = nlohmann::json::array();
        for (size_t i = 0; i < outcomes.size(); ++i) {
          const ToolCall& call = answer.stats.tool_calls[i];
          request.messages.push_back({"tool", outcomes[i].content, {}, call.id});
          nlohmann::json record = {{"id", call.id}, {"name", call.name}, {"arguments", outcomes[i].arguments},
                                   {"ok", outcomes[i].ok}, {"duration_ms", outcomes[i].duration_ms}};
          if (!outcomes[i].ok) record["error"] = outcomes[i].error;
          tools_log.push_back(std::move(record));
        }
        if (context.scope->cancelled()) {
          status = Status::Cancelled(context.scope->reason());
          break;
        }
        continue;
      }
      if (!spec_.output_schema) break;
      ++answers;
      reply = std::move(answer.text);
      std::vector<std::string> problems;
      structured = Structured(reply, *spec_.output_schema, &problems);
      if (problems.empty()) break;
      structured = nullptr;
      if (answers >= spec_.schema_attempts) {
        status = Status::InvalidArgument("the answer does not follow output_schema (" + std::to_string(answers) +
                                         (answers == 1 ? " answer" : " answers") + " tried): " +
                                         Joined(problems, "; "));
        break;
      }
      request.messages.push_back({"assistant", reply});
      request.messages.push_back({"user", "Your answer does not follow the JSON schema:\n- " + Joined(problems, "\n- ") +
                                              "\nAnswer again with only the corrected JSON."});
    }
    // A partial or invalid reply stays visible in the state even when the step failed.
    context.state[spec_.output] = structured.is_null() ? nlohmann::json(std::move(reply)) : std::move(structured);
    if (!spec_.reasoning_output.empty()) context.state[spec_.reasoning_output] = std::move(reasoning);
    if (context.report != nullptr) context.report->tools = std::move(tools_log);
    co_return status;
  }

  std::string Describe() const override { return spec_.description; }
  std::string StreamedOutputKey() const override { return spec_.stream ? spec_.output : ""; }
  bool ReportsUsage() const override { return true; }

 private:
  Status BuildRequest(StepContext& context, ChatRequest* out) const {
    ChatRequest& request = *out;
    request = spec_.request;
    if (const ModelOverrides* overrides = context.model_overrides) {
      if (overrides->temperature) request.temperature = overrides->temperature;
      if (overrides->top_p) request.top_p = overrides->top_p;
      if (overrides->max_tokens) request.max_tokens = overrides->max_tokens;
    }
    if (spec_.system) {
      std::string system_text;
      Status rendered = spec_.system->Render(context.state, &system_text);
      if (!rendered.ok()) return rendered;
      if (!system_text.empty()) request.messages.push_back({"system", std::move(system_text)});
    }
    if (spec_.messages) {
      for (const auto& message : *spec_.messages) {
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

  // The mock's answer for this call: counted per run (the run's counters),
  // so concurrent runs never share the position.
  Status Script(StepContext& context, ChatRequest* request) const {
    if (spec_.mock_script.empty()) return Status::Ok();
    const int call = context.counters.step_calls[this]++;
    const auto& turn = spec_.mock_script[std::min<size_t>(static_cast<size_t>(call), spec_.mock_script.size() - 1)];
    return ApplyMockTurn(turn, context.state, request);
  }

  Task<Status> Call(StepContext& context, const ChatRequest& request, size_t room, Answer* answer,
                    std::string* reasoning) const {
    std::string& text = answer->text;
    // Built before the co_await, not inside its expression (GCC 12).
    DeltaCallback on_delta = [&](std::string_view delta) {
      // Refusing a delta stops the client, which aborts its transfer
      // (the path a client hang-up takes), so memory stays bounded.
      if (answer->over_limit || delta.size() > room - text.size()) {
        answer->over_limit = true;
        return false;
      }
      text.append(delta);  // an empty text is the client's flush hint; emit_chunk passes it on
      // `stream: false`: the text goes to the state only (no chunks, no flushes).
      return spec_.stream ? context.emit_chunk(delta) : !context.scope->cancelled();
    };
    StreamContext stream{*context.loop, *context.scope, context.flow, &answer->stats, &context.cancel};
    if (context.note || !spec_.reasoning_output.empty()) {
      stream.on_reasoning = [&context, reasoning, this](std::string_view delta) {
        if (reasoning->size() + delta.size() <= spec_.max_reply_bytes) reasoning->append(delta);
        if (context.note) context.note(StepNote::kReasoning, {{"text", delta}});
      };
    }
    Status streamed = co_await spec_.client->StreamAsync(request, std::move(on_delta), stream);
    co_return streamed;
  }

  // Tokens are spent (and reported) whether or not the answer was kept.
  void Count(StepContext& context, const StreamStats& stats) const {
    context.counters.upstream_retries += stats.retries;
    context.counters.prompt_tokens += stats.prompt_tokens;
    context.counters.completion_tokens += stats.completion_tokens;
    if (context.report != nullptr) {
      context.report->has_usage = true;
      context.report->prompt_tokens += stats.prompt_tokens;
      context.report->completion_tokens += stats.completion_tokens;
    }
    if (spec_.stream && stats.finish_reason == "length") context.counters.stopped_on_length = true;
  }

  Status CheckToolRound(const std::vector<ToolCall>& calls, int rounds) const {
    if (spec_.tools == nullptr || spec_.tools->empty()) {
      return Status::UpstreamError("the model asked for tool '" + calls.front().name +
                                   "', but this step offers no tools");
    }
    if (rounds >= spec_.max_tool_rounds) {
      return Status::ResourceExhausted("the model still asked for tools after " + std::to_string(rounds) +
                                       " rounds (max_tool_rounds)");
    }
    return Status::Ok();
  }

  LlmStreamSpec spec_;
};

}  // namespace

std::unique_ptr<Step> NewLlmStreamStep(LlmStreamSpec spec) { return std::make_unique<LlmStreamStep>(std::move(spec)); }

Status ApplyMockTurn(const LlmStreamSpec::MockTurn& turn, const nlohmann::json& state, ChatRequest* request) {
  nlohmann::json value;
  if (Status evaluated = turn.value->Evaluate(state, &value); !evaluated.ok()) {
    return Status::Error(evaluated.code(), "in the mock reply: " + evaluated.message());
  }
  request->mock_reply.reset();
  request->mock_tool_calls.clear();
  request->mock_reasoning.clear();
  if (!turn.mapping || !value.is_object()) {
    request->mock_reply = MockText(value);
    return Status::Ok();
  }
  if (auto text = value.find("text"); text != value.end()) request->mock_reply = MockText(*text);
  if (auto json = value.find("json"); json != value.end()) request->mock_reply = DumpJson(*json);
  if (auto reasoning = value.find("reasoning"); reasoning != value.end()) request->mock_reasoning = MockText(*reasoning);
  if (auto calls = value.find("tool_calls"); calls != value.end() && calls->is_array()) {
    for (const auto& call : *calls) {
      ToolCall scripted;
      scripted.name = MockText(call.value("name", nlohmann::json()));
      scripted.id = MockText(call.value("id", nlohmann::json()));
      const nlohmann::json arguments = call.value("arguments", nlohmann::json::object());
      // A string is sent as written (so a script can send malformed arguments).
      scripted.arguments = arguments.is_string() ? arguments.get<std::string>() : DumpJson(arguments);
      request->mock_tool_calls.push_back(std::move(scripted));
    }
  }
  if (!request->mock_reply && request->mock_tool_calls.empty()) request->mock_reply = "";
  return Status::Ok();
}

}  // namespace flowrun
