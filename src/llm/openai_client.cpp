// The openai WireProtocol: chat completions at {base_url}/chat/completions,
// a Bearer key, SSE of chat.completion.chunk objects ending with [DONE]
// (read by openai_decoder.cpp).
#include "llm/openai_client.h"

#include <utility>

#include "llm/openai_wire.h"
#include "llm/protocol_client.h"

namespace flowrun {
namespace {

bool IsUpstreamError(const Status& status) { return status.message().rfind("upstream error: ", 0) == 0; }

class OpenAiWire final : public WireProtocol {
 public:
  std::string name() const override { return "openai"; }
  std::string Url(const std::string& base_url) const override { return base_url + "/chat/completions"; }
  std::vector<std::string> Headers(const std::string& api_key) const override {
    if (api_key.empty()) return {};
    return {"Authorization: Bearer " + api_key};
  }
  std::string BuildBody(const ChatRequest& request) const override { return BuildChatRequestBody(request); }
  Framing framing() const override { return Framing::kSse; }
  std::unique_ptr<StreamDecoder> NewDecoder(const ChatRequest&) const override {
    return MakeOpenAiDecoder();
  }
  std::string ErrorMessage(std::string_view body) const override { return UpstreamErrorMessage(body); }
  std::optional<std::string> ErrorInUnstreamedBody(std::string_view body) const override {
    OpenAiChunk ignored;
    Status parsed = ParseOpenAiChunk(body, &ignored);
    if (!IsUpstreamError(parsed)) return std::nullopt;
    return parsed.message().substr(std::string_view("upstream error: ").size());
  }
};

}  // namespace

std::unique_ptr<LlmClient> MakeOpenAiClient(OpenAiConfig config) {
  return MakeProtocolClient(std::make_shared<const OpenAiWire>(), std::move(config));
}

}  // namespace flowrun
