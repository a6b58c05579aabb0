// The ollama WireProtocol (ollama_client.h): the format itself is in
// ollama_wire.cpp.
#include "llm/ollama_client.h"

#include <nlohmann/json.hpp>

#include "llm/ollama_wire.h"
#include "llm/openai_wire.h"
#include "llm/protocol_client.h"

namespace flowrun {
namespace {

class OllamaWire final : public WireProtocol {
 public:
  std::string name() const override { return "ollama"; }
  std::string Url(const std::string& base_url) const override { return base_url + "/api/chat"; }
  std::vector<std::string> Headers(const std::string& api_key) const override {
    if (api_key.empty()) return {};
    return {"Authorization: Bearer " + api_key};
  }
  std::string BuildBody(const ChatRequest& request) const override { return BuildOllamaBody(request); }
  Framing framing() const override { return Framing::kNdjson; }
  std::unique_ptr<StreamDecoder> NewDecoder(const ChatRequest&) const override {
    return std::make_unique<OllamaDecoder>();
  }
  std::string ErrorMessage(std::string_view body) const override { return UpstreamErrorMessage(body); }
  // The stream itself is application/x-ndjson.
  bool IsUnstreamed(std::string_view content_type) const override {
    return content_type.find("json") != std::string_view::npos &&
           content_type.find("ndjson") == std::string_view::npos;
  }
  std::optional<std::string> ErrorInUnstreamedBody(std::string_view body) const override {
    const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object() || !parsed.contains("error") || parsed["error"].is_null()) return std::nullopt;
    return UpstreamErrorMessage(body);
  }
};

}  // namespace

std::unique_ptr<LlmClient> MakeOllamaClient(OpenAiConfig config) {
  return MakeProtocolClient(std::make_shared<const OllamaWire>(), std::move(config));
}

}  // namespace flowrun
