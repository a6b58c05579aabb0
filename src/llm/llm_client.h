// LlmClient: the seam between flows and language models. A provider streams
// a chat completion as text deltas (plus, where the model sends them,
// reasoning deltas, tool calls and a refusal), either on a run's event loop without
// blocking it (StreamAsync, what runs use) or blocking the calling thread
// (Stream). Implementations must be thread-safe: one client object serves
// many concurrent runs, on several loops.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel_scope.h"
#include "core/cancellation.h"
#include "core/event_loop.h"
#include "core/flow_control.h"
#include "core/status.h"
#include "core/task.h"

namespace flowrun {

// A tool call the model asked for (assistant), or made earlier (history).
struct ToolCall {
  std::string id;         // the provider's id; Ollama sends none, so "call_<index>"
  std::string name;
  std::string arguments;  // JSON text as the model sent it (never re-serialised, except Ollama's object)
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" or "tool"
  std::string content;
  // Initialised here so that {role, content} stays a complete initialiser.
  std::vector<ToolCall> tool_calls = {};  // assistant: the calls it made
  std::string tool_call_id = {};          // role "tool": the call this message answers
};

// A tool offered to the model.
struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters;  // a JSON Schema object
};

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> max_tokens;
  std::vector<ToolSpec> tools;
  // Structured output: the reply must be JSON following this schema.
  // OpenAI gets response_format json_schema (strict), Ollama `format`, and
  // Anthropic a forced tool whose input streams back as the reply text, so
  // callers see JSON text from every provider.
  std::optional<nlohmann::json> output_schema;
  std::string output_schema_name = "output";
  // The mock provider answers this text (a flow's scripted `mock_reply`)
  // instead of its canned sentence, with these tool calls and this
  // reasoning; other providers ignore them.
  std::optional<std::string> mock_reply;
  std::vector<ToolCall> mock_tool_calls;
  std::string mock_reasoning;
};

// Receives each non-empty text delta in order. Returns false when the
// consumer is gone; the client then stops the transfer and returns.
// After handing over deltas that arrived together, a client calls it once
// with an empty view: nothing more is ready now, so a consumer that
// batches its output (one send for a burst of tokens) should flush.
using DeltaCallback = std::function<bool(std::string_view text)>;

// Coarse cause of a failed stream, so callers can count failures by kind
// without parsing messages.
enum class StreamFault {
  kNone,           // the answer finished
  kCancelled,      // the consumer went away or the run was cancelled
  kUnreachable,    // no HTTP response: refused, connect timeout, closed early
  kHttpStatus,     // a non-2xx response (see StreamStats::http_status)
  kUpstreamError,  // the stream carried an error object
  kMalformed,      // not JSON, an oversized line, or not a stream at all
  kTruncated,      // the body ended or was reset before the answer finished
  kTimeout,        // no first token, or the upstream went silent
  kOutOfDescriptors,  // this process could not open a socket (EMFILE/ENFILE): not the upstream's fault
  kOther,
};

// How one Stream call went. Providers that report no usage leave it 0.
struct StreamStats {
  int attempts = 0;     // upstream requests started (0 if cancelled before any)
  int retries = 0;      // attempts after the first
  int http_status = 0;  // status of the last response, 0 when none arrived
  StreamFault fault = StreamFault::kNone;
  // What the (last) attempt's upstream reported: choices[0].finish_reason
  // ("stop", "length", ...; empty when none was a string), and its token
  // usage, 0 where it reported none.
  std::string finish_reason;
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  // Tool calls the answer asked for, assembled from their fragments, in the
  // order of their index.
  std::vector<ToolCall> tool_calls;
  // OpenAI's delta.refusal text, joined: the model declined. Such an answer
  // still ends Ok (often with no reply text); callers decide what it means.
  std::string refusal;
};

// Receives reasoning ("thinking") deltas, never part of the reply text.
using ReasoningCallback = std::function<void(std::string_view text)>;

// What an asynchronous model call runs with besides the request. All of it
// belongs to the loop thread the call runs on, and outlives the call.
struct StreamContext {
  EventLoop& loop;
  CancelScope& scope;           // cancelling it ends the call promptly (the transfer is aborted)
  FlowControl* flow = nullptr;  // the consumer's backlog: pause reading while it is set (may be null)
  StreamStats* stats = nullptr; // filled when not null
  // For the blocking fallback of StreamAsync: the caller's token, when it
  // has one; else one bridged from `scope`.
  const Cancellation* cancel = nullptr;
  // Reasoning deltas, on the loop, when not empty. Handing one on counts as
  // output: like text, no retry follows it.
  ReasoningCallback on_reasoning = nullptr;
};

class LlmClient {
 public:
  virtual ~LlmClient() = default;

  // Streams one completion. Returns Ok only when the model finished its
  // answer; a truncated stream, an upstream error or a cancellation is an
  // error Status whose message never contains credentials.
  virtual Status Stream(const ChatRequest& request, const DeltaCallback& on_delta,
                        const Cancellation& cancel) = 0;

  // Stream, also filling `*stats` (when not null). A separate name rather
  // than an overload so existing overrides of Stream neither hide it nor need
  // changing; this default suits providers that never retry.
  virtual Status StreamWithStats(const ChatRequest& request, const DeltaCallback& on_delta,
                                 const Cancellation& cancel, StreamStats* stats) {
    Status status = Stream(request, on_delta, cancel);
    if (stats != nullptr) {
      *stats = StreamStats();
      stats->attempts = 1;
      stats->fault = status.ok() ? StreamFault::kNone : StreamFault::kOther;
    }
    return status;
  }

  // Streams one completion on `context.loop`: deltas reach `on_delta` on
  // that loop and the task resumes there; the result is as for Stream.
  // `request` must outlive the task. This default runs the blocking
  // StreamWithStats inline, which holds the loop for the whole call: right
  // for test fakes and simple custom providers, not for real ones (mock and
  // openai override it).
  virtual Task<Status> StreamAsync(const ChatRequest& request, DeltaCallback on_delta, StreamContext context) {
    Cancellation own;
    if (context.scope.cancelled()) own.Cancel(context.scope.reason());
    const CancelScope::CallbackId bridge = context.scope.OnCancel([&own, &context] {
      own.Cancel(context.scope.reason());
    });
    Status status = StreamWithStats(request, on_delta, context.cancel != nullptr ? *context.cancel : own,
                                    context.stats);
    context.scope.RemoveCallback(bridge);
    co_return status;
  }

  // Human-readable description for start-up logs, e.g.
  // "openai at https://api.openai.com/v1" or "mock (offline)". No secrets.
  virtual std::string Describe() const = 0;
};

}  // namespace flowrun
