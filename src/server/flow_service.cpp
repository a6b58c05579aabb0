// Request routing, validation and SSE streaming of flow runs.
#include "server/flow_service.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "core/descriptors.h"
#include "core/json_text.h"
#include "flow/flow_catalog.h"
#include "server/graph_endpoint.h"
#include "server/openai_format.h"
#include "server/stream_session.h"

namespace flowrun {

std::string_view PlaygroundPage();  // generated from playground.html

namespace {

bool IsJsonContentType(const std::string& content_type) {
  std::string media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json" || (media.size() > 5 && media.ends_with("+json"));
}

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.body = DumpJson(body) + "\n";
  return response;
}

}  // namespace

class FlowService::StreamSlot {
 public:
  explicit StreamSlot(std::atomic<size_t>& active) : active_(active) {}
  ~StreamSlot() { active_.fetch_sub(1); }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;

 private:
  std::atomic<size_t>& active_;
};

// Everything a stream needs once admitted; owned by the response's stream
// function until the stream's task has copied it.
struct FlowService::StreamJob {
  std::shared_ptr<StreamSlot> slot;
  std::shared_ptr<const Flow> flow;
  nlohmann::json input;
  StreamSettings settings;
  RequestInfo info;
};

void FlowService::CancelAllStreams(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& live : running_) {
    // The scope belongs to the stream's loop: cancel there.
    live->loop->Post([live, reason] {
      if (live->scope != nullptr) live->scope->Cancel(reason);
    });
  }
}

Task<void> FlowService::RunStream(const FlowService* service, std::shared_ptr<StreamJob> job, StreamRun run) {
  auto live = std::make_shared<LiveStream>(LiveStream{&run.loop, &run.scope});
  {
    std::lock_guard<std::mutex> lock(service->mutex_);
    service->running_.insert(live);
  }
  // Not inside the co_await expression: GCC 12 may destroy the copied
  // settings (which hold the flow library) twice there.
  Task<StreamOutcome> stream = StreamFlow(*job->flow, job->input, job->settings, run);
  StreamOutcome outcome = co_await stream;
  live->scope = nullptr;
  {
    std::lock_guard<std::mutex> lock(service->mutex_);
    service->running_.erase(live);
  }
  nlohmann::json content;
  if (service->options_.log_content) content = {{"input", job->input}, {"reply", outcome.reply}};
  LogStreamEnd(job->info, outcome, content);
  if (outcome.head_waited) service->metrics_.CountRequest(job->flow->name, outcome.status);
  StreamRecord record;
  record.flow = job->flow->name;
  record.outcome = outcome.client_gone ? "client_gone" : outcome.ok ? "done" : "error";
  record.upstream_error = outcome.counters.upstream_errors > 0;
  record.first_chunk_seconds = outcome.first_chunk_ms < 0 ? -1 : outcome.first_chunk_ms / 1000;
  record.duration_seconds = outcome.duration_ms / 1000;
  record.chunks = outcome.chunks;
  service->metrics_.RecordStream(record);
  service->metrics_.CountUpstreamRetries(job->flow->name, outcome.counters.upstream_retries);
  for (const auto& [step, tokens] : outcome.step_tokens) {
    service->metrics_.CountTokens(job->flow->name, step, tokens.prompt_tokens, tokens.completion_tokens);
  }
  job->slot.reset();  // the admission slot frees once the stream has been logged
}

HttpResponse JsonError(int status, const std::string& message, const std::string& field) {
  nlohmann::json body = {{"error", message}};
  if (!field.empty()) body["field"] = field;
  return Json(status, body);
}

Status FlowService::SetFlows(std::vector<std::shared_ptr<const Flow>> flows) {
  if (auto clashes = EndpointClashes(flows); !clashes.empty()) return Status::AlreadyExists(clashes.front());
  auto table = std::make_shared<FlowTable>();
  for (auto& flow : flows) table->emplace(flow->endpoint, flow);
  auto library = std::make_shared<const FlowLibrary>(flows);
  std::lock_guard<std::mutex> lock(mutex_);
  auto models = std::make_shared<ModelTable>();
  for (auto& flow : flows) {
    if (!flow->openai.exposed) continue;
    Model model{flow, std::time(nullptr)};
    if (auto before = models_->find(OpenAiModelId(*flow)); before != models_->end() && before->second.flow == flow) {
      model.created = before->second.created;
    }
    models->emplace(OpenAiModelId(*flow), std::move(model));
  }
  flows_ = std::move(table);
  library_ = std::move(library);
  models_ = std::move(models);
  return Status::Ok();
}

std::shared_ptr<const FlowService::FlowTable> FlowService::Flows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return flows_;
}

HttpResponse FlowService::Handle(const HttpRequest& request) const {
  RequestInfo info{RequestIdFor(request), request.method, request.path, ""};
  std::optional<HttpResponse> denied = access_.Check(request);
  HttpResponse response = denied ? std::move(*denied) : Route(request, info);
  if (request.path.starts_with("/v1/")) ToOpenAiError(response);
  access_.Decorate(request, response);
  response.headers.emplace_back("X-Request-Id", info.id);
  // Streams log when they end, and one whose head waits for its end is counted then.
  if (!response.head_waits) metrics_.CountRequest(info.flow, response.status);
  if (!response.stream) LogResponse(info, response);
  return response;
}

HttpResponse FlowService::Refuse(const std::string& method, const std::string& target, int status,
                                 const std::string& message) const {
  const std::string path = target.substr(0, target.find('?'));
  RequestInfo info{RequestIdFor(HttpRequest{}), method.empty() ? "-" : method, path.empty() ? "-" : path, ""};
  HttpResponse response = JsonError(status, message);
  if (status == 503) response.headers.emplace_back("Retry-After", "1");
  if (path.starts_with("/v1/")) ToOpenAiError(response);
  response.headers.emplace_back("X-Request-Id", info.id);
  metrics_.CountRequest("", status);
  LogResponse(info, response);
  return response;
}

HttpResponse FlowService::Route(const HttpRequest& request, RequestInfo& info) const {
  auto flows = Flows();
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  std::string allowed;
  if (request.path == "/") {
    if (is_get) {
      HttpResponse page;
      page.content_type = "text/html; charset=utf-8";
      page.body = std::string(PlaygroundPage());
      return page;
    }
    allowed = "GET";
  } else if (request.path == "/healthz") {
    if (is_get) return Json(200, {{"status", "ok"}, {"flows", flows->size()}, {"streams", ActiveStreams()}});
    allowed = "GET";
  } else if (request.path == "/flows") {
    if (is_get) return ListFlows(*flows);
    allowed = "GET";
  } else if (request.path == "/metrics") {
    if (is_get) {
      HttpResponse metrics;
      metrics.content_type = "text/plain; version=0.0.4; charset=utf-8";
      metrics.body = metrics_.Render(ActiveStreams());
      return metrics;
    }
    allowed = "GET";
  } else if (request.path == "/v1/chat/completions") {
    if (request.method == "POST") return ChatCompletions(request, info);
    allowed = "POST";
  } else if (request.path == "/v1/models" || request.path.starts_with("/v1/models/")) {
    if (is_get) return ListModels(request);
    allowed = "GET";
  } else if (auto found = flows->find(request.path); found != flows->end()) {
    info.flow = found->second->name;
    if (request.method == "POST") return RunFlowRequest(found->second, request, info);
    allowed = "POST";
  } else if (auto graphed = GraphedFlow(request.path, *flows)) {
    info.flow = graphed->name;
    if (is_get) return GraphResponse(*graphed, request);
    allowed = "GET";
  }
  if (allowed.empty()) {
    std::string served;
    for (const auto& [endpoint, flow] : *flows) served += (served.empty() ? "" : ", ") + endpoint;
    return JsonError(404, "no such path: " + request.path + (served.empty() ? "" : "; flows are served at " + served));
  }
  HttpResponse response = JsonError(405, "method " + request.method + " is not allowed on " + request.path +
                                             "; use " + allowed);
  response.headers.emplace_back("Allow", allowed);
  return response;
}

HttpResponse FlowService::ListFlows(const FlowTable& flows) const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [endpoint, flow] : flows) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& step : flow->steps) steps.push_back({{"id", step.id}, {"type", step.type}});
    list.push_back({{"name", flow->name},
                    {"endpoint", endpoint},
                    {"description", flow->description},
                    {"inputs", flow->input.Describe()},
                    {"steps", steps}});
  }
  return Json(200, {{"flows", list}});
}

std::optional<HttpResponse> FlowService::ReadJsonBody(const HttpRequest& request, nlohmann::json* body) const {
  if (request.body.size() > options_.max_body_bytes) {
    return JsonError(413, "request body is " + std::to_string(request.body.size()) + " bytes; the limit is " +
                              std::to_string(options_.max_body_bytes));
  }
  const std::string content_type = request.Header("content-type");
  if (!content_type.empty() && !IsJsonContentType(content_type)) {
    return JsonError(415, "content type '" + content_type + "' is not supported; send application/json");
  }
  *body = nlohmann::json::object();
  if (request.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    // The shape first: the DOM of many tiny values costs far more than their text.
    if (Status shape = CheckJsonShape(request.body, options_.json_limits); !shape.ok()) {
      return JsonError(400, shape.message());
    }
    *body = nlohmann::json::parse(request.body, nullptr, false);
    if (body->is_discarded()) return JsonError(400, "the request body is not valid JSON");
  }
  return std::nullopt;
}

std::optional<HttpResponse> FlowService::Admit(int limit_status, std::shared_ptr<StreamSlot>* slot) const {
  // Admission: beyond the limit a client learns at once to come back later.
  if (active_streams_.fetch_add(1) >= options_.max_streams && options_.max_streams > 0) {
    active_streams_.fetch_sub(1);
    HttpResponse busy = JsonError(limit_status, "the server is at its limit of " +
                                                    std::to_string(options_.max_streams) +
                                                    " concurrent streams; retry shortly");
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  *slot = std::make_shared<StreamSlot>(active_streams_);
  // A stream opens an upstream socket: without descriptors to spare it would
  // fail as if the model were unreachable. Tell the client to come back.
  if (!HaveDescriptorHeadroom(kDescriptorsPerStream)) {
    slot->reset();
    NoteDescriptorShortage(DescriptorShortage::kAdmission);
    HttpResponse busy = JsonError(503, OutOfDescriptorsMessage() + "; retry shortly");
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  return std::nullopt;
}

HttpResponse FlowService::StartStream(std::shared_ptr<StreamSlot> slot, std::shared_ptr<const Flow> flow,
                                      nlohmann::json input, StreamSettings settings, const RequestInfo& info) const {
  settings.heartbeat = options_.heartbeat;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settings.library = library_;
  }
  HttpResponse response;
  response.content_type = "text/event-stream";
  response.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  auto job = std::make_shared<StreamJob>(
      StreamJob{std::move(slot), std::move(flow), std::move(input), std::move(settings), info});
  // Not a coroutine itself: RunStream's frame holds its own copies.
  response.stream = [this, job](StreamRun run) { return RunStream(this, job, run); };
  return response;
}

HttpResponse FlowService::RunFlowRequest(std::shared_ptr<const Flow> flow, const HttpRequest& request,
                                         const RequestInfo& info) const {
  nlohmann::json body;
  if (auto refused = ReadJsonBody(request, &body)) return std::move(*refused);
  InputError error;
  auto input = flow->input.Validate(body, &error);
  if (!input) return JsonError(400, error.message, error.field);
  std::shared_ptr<StreamSlot> slot;
  if (auto busy = Admit(503, &slot)) return std::move(*busy);
  auto events_param = request.query.find("events");
  StreamSettings settings;
  settings.all_events = events_param != request.query.end() && events_param->second == "all";
  return StartStream(std::move(slot), std::move(flow), std::move(*input), std::move(settings), info);
}

}  // namespace flowrun
