// OpenAI's stream decoder (MakeOpenAiDecoder in openai_wire.h): text,
// reasoning (reasoning_content / reasoning), refusal and tool-call fragments
// from choices[0].delta, assembled by index; the last usage counts. A
// stream that ends without [DONE] is complete once a finish_reason came.
#include <utility>

#include "llm/openai_wire.h"
#include "llm/tool_call_assembler.h"

namespace flowrun {
namespace {

constexpr std::size_t kMaxRefusalBytes = std::size_t{1} << 20;

bool IsUpstreamError(const Status& status) { return status.message().rfind("upstream error: ", 0) == 0; }

class OpenAiDecoder final : public StreamDecoder {
 public:
  Status Decode(std::string_view event, std::string_view data, DecodedMessage* out) override {
    if (event == "error") return Status::UpstreamError("upstream error: " + UpstreamErrorMessage(data));
    OpenAiChunk chunk;
    Status parsed = ParseOpenAiChunk(data, &chunk);
    if (!parsed.ok()) {
      out->fault = IsUpstreamError(parsed) ? StreamFault::kUpstreamError : StreamFault::kMalformed;
      return parsed;
    }
    if (chunk.done) {
      out->end = true;
      return Status::Ok();
    }
    out->text = std::move(chunk.content);
    out->reasoning = std::move(chunk.reasoning);
    for (const OpenAiToolFragment& fragment : chunk.tool_calls) {
      out->progress = true;
      Status added = tools_.Add(fragment.index, fragment.id, fragment.name, fragment.arguments);
      if (!added.ok()) {
        out->fault = StreamFault::kMalformed;
        return added;
      }
    }
    if (!chunk.refusal.empty()) {
      out->progress = true;
      if (chunk.refusal.size() > kMaxRefusalBytes - refusal_.size()) {
        out->fault = StreamFault::kMalformed;
        return Status::ResourceExhausted("upstream sent a refusal over the limit of " +
                                         std::to_string(kMaxRefusalBytes) + " bytes");
      }
      refusal_ += chunk.refusal;
    }
    if (chunk.finished) {
      out->progress = true;
      finished_ = true;
      if (!chunk.finish_reason.empty()) finish_reason_ = std::move(chunk.finish_reason);
    }
    // Some servers repeat a cumulative usage; the last one counts.
    if (chunk.has_usage) {
      prompt_tokens_ = chunk.prompt_tokens;
      completion_tokens_ = chunk.completion_tokens;
    }
    return Status::Ok();
  }

  DecodedAnswer Answer() const override {
    DecodedAnswer answer;
    answer.finished = finished_;
    answer.finish_reason = finish_reason_;
    answer.prompt_tokens = prompt_tokens_;
    answer.completion_tokens = completion_tokens_;
    answer.tool_calls = tools_.Calls();
    answer.refusal = refusal_;
    return answer;
  }

 private:
  ToolCallAssembler tools_;
  bool finished_ = false;
  std::string finish_reason_;
  long long prompt_tokens_ = 0;
  long long completion_tokens_ = 0;
  std::string refusal_;
};

}  // namespace

std::unique_ptr<StreamDecoder> MakeOpenAiDecoder() { return std::make_unique<OpenAiDecoder>(); }

}  // namespace flowrun
