// MockClient: the offline provider. Echoes the last user message in a fixed
// sentence, or answers the request's scripted mock_reply, streamed word by
// word (after its scripted reasoning, also word by word, and followed by
// its scripted tool calls), so flows can be tried (and take every path)
// without a model.
// On a run's loop (StreamAsync) the per-token delay is a timer, so paced
// mock streams cost no thread; the blocking Stream sleeps its caller.
#include "llm/mock_client.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/loop_awaitables.h"

namespace flowrun {
namespace {

// Short slices keep cancellation prompt even with long per-token delays.
constexpr int kSleepSliceMs = 10;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string LastUserMessage(const ChatRequest& request) {
  auto found = std::find_if(request.messages.rbegin(), request.messages.rend(),
                            [](const ChatMessage& message) { return message.role == "user"; });
  return found == request.messages.rend() ? std::string() : found->content;
}

// Returns false if cancelled while waiting.
bool SleepUnlessCancelled(int delay_ms, const Cancellation& cancel) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
  while (true) {
    if (cancel.IsCancelled()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(kSleepSliceMs)));
  }
}

std::string Reply(const ChatRequest& request) {
  if (request.mock_reply) return *request.mock_reply;
  if (!request.mock_tool_calls.empty()) return "";
  return "You said: \"" + LastUserMessage(request) +
         "\". This is flowrun's mock model; set OPENAI_API_KEY or "
         "OPENAI_BASE_URL to use a real one.";
}

// Each token is a word with the whitespace before it, like real models.
std::vector<std::string_view> Tokens(std::string_view reply) {
  std::vector<std::string_view> tokens;
  std::size_t start = 0;
  while (start < reply.size()) {
    std::size_t end = start;
    while (end < reply.size() && IsSpace(reply[end])) ++end;
    while (end < reply.size() && !IsSpace(reply[end])) ++end;
    tokens.push_back(reply.substr(start, end - start));
    start = end;
  }
  return tokens;
}

// Whitespace-separated words of every message sent: the mock's prompt tokens.
long long PromptTokens(const ChatRequest& request) {
  long long words = 0;
  for (const ChatMessage& message : request.messages) {
    bool in_word = false;
    for (char c : message.content) {
      if (!IsSpace(c) && !in_word) ++words;
      in_word = !IsSpace(c);
    }
  }
  return words;
}

// Cuts `tokens` to the request's max_tokens, and says how the answer ends.
std::string Limit(const ChatRequest& request, std::vector<std::string_view>* tokens) {
  if (request.max_tokens && *request.max_tokens >= 0 && tokens->size() > static_cast<size_t>(*request.max_tokens)) {
    tokens->resize(static_cast<size_t>(*request.max_tokens));
    return "length";
  }
  return "stop";
}

void StartStats(const ChatRequest& request, StreamStats* stats) {
  if (stats == nullptr) return;
  *stats = StreamStats();
  stats->attempts = 1;
  stats->prompt_tokens = PromptTokens(request);
}

// A finished answer: how it ended, what it streamed and the calls it asks for.
void FinishStats(const ChatRequest& request, std::string finish_reason, size_t streamed, StreamStats* stats) {
  if (stats == nullptr) return;
  stats->tool_calls = request.mock_tool_calls;
  for (size_t i = 0; i < stats->tool_calls.size(); ++i) {
    if (stats->tool_calls[i].id.empty()) stats->tool_calls[i].id = "call_" + std::to_string(i + 1);
  }
  if (!stats->tool_calls.empty() && finish_reason == "stop") finish_reason = "tool_calls";
  stats->finish_reason = std::move(finish_reason);
  stats->completion_tokens = static_cast<long long>(streamed);
}

class MockClient : public LlmClient {
 public:
  explicit MockClient(MockConfig config) : config_(config) {}

  Status Stream(const ChatRequest& request, const DeltaCallback& on_delta,
                const Cancellation& cancel) override {
    return StreamWithStats(request, on_delta, cancel, nullptr);
  }

  Status StreamWithStats(const ChatRequest& request, const DeltaCallback& on_delta, const Cancellation& cancel,
                         StreamStats* stats) override {
    StartStats(request, stats);
    const std::string reply = Reply(request);
    std::vector<std::string_view> tokens = Tokens(reply);
    std::string finish_reason = Limit(request, &tokens);
    for (std::string_view token : tokens) {
      if (config_.delay_ms > 0 && !SleepUnlessCancelled(config_.delay_ms, cancel)) {
        return Cancelled(stats);
      }
      if (cancel.IsCancelled()) return Cancelled(stats);
      if (!on_delta(token)) return Cancelled(stats);
      // A paced token goes out on its own; unpaced ones go out together.
      if (config_.delay_ms > 0 && !on_delta(std::string_view())) return Cancelled(stats);
    }
    if (config_.delay_ms == 0 && !on_delta(std::string_view())) return Cancelled(stats);
    FinishStats(request, std::move(finish_reason), tokens.size(), stats);
    return Status::Ok();
  }

  Task<Status> StreamAsync(const ChatRequest& request, DeltaCallback on_delta, StreamContext context) override {
    StartStats(request, context.stats);
    const std::string reply = Reply(request);
    std::vector<std::string_view> tokens = Tokens(reply);
    std::string finish_reason = Limit(request, &tokens);
    const std::chrono::milliseconds delay(config_.delay_ms);
    if (context.on_reasoning && !request.mock_reasoning.empty()) {
      for (std::string_view token : Tokens(request.mock_reasoning)) {
        if (context.scope.cancelled()) co_return Cancelled(context.stats);
        context.on_reasoning(token);
      }
    }
    for (std::string_view token : tokens) {
      if (delay.count() > 0) {
        const bool slept = co_await Sleep(context.loop, delay, &context.scope);
        if (!slept) co_return Cancelled(context.stats);
      }
      if (context.scope.cancelled() || !on_delta(token)) co_return Cancelled(context.stats);
      if (delay.count() > 0 && !on_delta(std::string_view())) co_return Cancelled(context.stats);
    }
    if (delay.count() == 0 && !on_delta(std::string_view())) co_return Cancelled(context.stats);
    FinishStats(request, std::move(finish_reason), tokens.size(), context.stats);
    co_return Status::Ok();
  }

  static Status Cancelled(StreamStats* stats) {
    if (stats != nullptr) stats->fault = StreamFault::kCancelled;
    return Status::Error("cancelled");
  }

  std::string Describe() const override {
    std::string description = "mock (offline)";
    if (config_.delay_ms > 0) description += ", " + std::to_string(config_.delay_ms) + " ms per token";
    return description;
  }

 private:
  const MockConfig config_;
};

}  // namespace

std::unique_ptr<LlmClient> MakeMockClient(MockConfig config) { return std::make_unique<MockClient>(config); }

}  // namespace flowrun
