// The anthropic WireProtocol (anthropic_client.h): the format itself is in
// anthropic_wire.cpp.
#include "llm/anthropic_client.h"

#include <nlohmann/json.hpp>

#include "llm/anthropic_wire.h"
#include "llm/protocol_client.h"

namespace flowrun {
namespace {

// Anthropic's "overloaded" status.
constexpr long kOverloaded = 529;

class AnthropicWire final : public WireProtocol {
 public:
  std::string name() const override { return "anthropic"; }
  std::string Url(const std::string& base_url) const override { return base_url + "/v1/messages"; }
  std::vector<std::string> Headers(const std::string& api_key) const override {
    std::vector<std::string> headers = {std::string("anthropic-version: ") + kAnthropicVersion};
    if (!api_key.empty()) headers.push_back("x-api-key: " + api_key);
    return headers;
  }
  std::string BuildBody(const ChatRequest& request) const override { return BuildAnthropicBody(request); }
  Framing framing() const override { return Framing::kSse; }
  std::unique_ptr<StreamDecoder> NewDecoder(const ChatRequest& request) const override {
    return std::make_unique<AnthropicDecoder>(request);
  }
  std::string ErrorMessage(std::string_view body) const override { return AnthropicErrorMessage(body); }
  std::optional<std::string> ErrorInUnstreamedBody(std::string_view body) const override {
    const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object() || !parsed.contains("error")) return std::nullopt;
    return AnthropicErrorMessage(body);
  }
  bool IsRetryableStatus(long status) const override {
    return status == kOverloaded || WireProtocol::IsRetryableStatus(status);
  }
};

}  // namespace

std::unique_ptr<LlmClient> MakeAnthropicClient(OpenAiConfig config) {
  return MakeProtocolClient(std::make_shared<const AnthropicWire>(), std::move(config));
}

}  // namespace flowrun
