// The OpenAI-compatible facade of FlowService: POST /v1/chat/completions
// runs the flow whose model id the request names and answers in the chat
// completions shape (a chunk stream, or one chat.completion); GET
// /v1/models lists the ids. Admission, cancellation, heartbeats, logs and
// metrics are the native streams' own (StartStream). Thread-safe, as
// FlowService is.
#include <ctime>

#include "server/flow_service.h"
#include "server/openai_format.h"
#include "server/openai_request.h"

namespace flowrun {
namespace {

HttpResponse Refusal(const ChatRequestError& error) {
  return OpenAiError(error.status, error.message, error.param, error.code);
}

nlohmann::ordered_json ModelJson(const std::string& id, int64_t created) {
  nlohmann::ordered_json model;
  model["id"] = id;
  model["object"] = "model";
  model["created"] = created;
  model["owned_by"] = "flowrun";
  return model;
}

HttpResponse JsonResponse(const nlohmann::ordered_json& body) {
  HttpResponse response;
  response.body = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  return response;
}

std::string ServedModels(const std::map<std::string, FlowService::Model>& models) {
  if (models.empty()) return "no flow is served as a model";
  std::string list;
  for (const auto& [id, model] : models) list += (list.empty() ? "" : ", ") + id;
  return "served models: " + list;
}

// Which request field an input refused by the flow came from.
std::string ParamOf(const std::string& field, const Flow& flow) {
  if (field.empty()) return "";
  if (!flow.openai.input.empty()) {
    for (const auto& [name, source] : flow.openai.input) {
      if (name == field) return "messages";
    }
    return "";
  }
  return field == "message" || field == "history" ? "messages" : "";
}

}  // namespace

std::shared_ptr<const FlowService::ModelTable> FlowService::Models() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return models_;
}

HttpResponse FlowService::ListModels(const HttpRequest& request) const {
  auto models = Models();
  if (request.path != "/v1/models") {
    const std::string id = request.path.substr(std::string("/v1/models/").size());
    auto found = models->find(id);
    if (found == models->end()) {
      return OpenAiError(404, "model '" + id + "' is not served here; " + ServedModels(*models), "model",
                         "model_not_found");
    }
    return JsonResponse(ModelJson(id, found->second.created));
  }
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  for (const auto& [id, model] : *models) data.push_back(ModelJson(id, model.created));
  nlohmann::ordered_json list;
  list["object"] = "list";
  list["data"] = std::move(data);
  return JsonResponse(list);
}

HttpResponse FlowService::ChatCompletions(const HttpRequest& request, RequestInfo& info) const {
  nlohmann::json body;
  if (auto refused = ReadJsonBody(request, &body)) return std::move(*refused);  // Handle gives it OpenAI's shape
  ChatCall call;
  if (auto error = ReadChatRequest(body, &call)) return Refusal(*error);
  auto models = Models();
  auto found = models->find(call.model);
  if (found == models->end()) {
    return OpenAiError(404, "model '" + call.model + "' is not served here; " + ServedModels(*models), "model",
                       "model_not_found");
  }
  std::shared_ptr<const Flow> flow = found->second.flow;
  info.flow = flow->name;
  if (auto error = MapChatToFlow(body, *flow, &call)) return Refusal(*error);
  InputError input_error;
  auto input = flow->input.Validate(call.input, &input_error);
  if (!input) {
    return OpenAiError(400, "flow '" + flow->name + "': " + input_error.message, ParamOf(input_error.field, *flow));
  }
  std::shared_ptr<StreamSlot> slot;
  if (auto busy = Admit(429, &slot)) return std::move(*busy);
  CompletionHeader header{"chatcmpl-" + info.id, static_cast<int64_t>(std::time(nullptr)), call.model};
  StreamSettings settings;
  settings.model_overrides = call.overrides;
  if (call.stream) {
    settings.encoder = std::make_shared<OpenAiChunkEncoder>(std::move(header), call.include_usage);
  } else {
    settings.encoder = std::make_shared<OpenAiCompletionEncoder>(std::move(header));
  }
  HttpResponse response = StartStream(std::move(slot), std::move(flow), std::move(*input), std::move(settings), info);
  if (!call.stream) {
    response.content_type = "application/json";
    response.head_waits = true;
  }
  return response;
}

}  // namespace flowrun
