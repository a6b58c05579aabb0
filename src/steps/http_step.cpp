// http: calls an HTTP API and stores {status, headers, body} in `output`.
// The url's scheme and host are literal in the flow (checked when it
// loads); its path, `query`, `headers` and the `json` body are templates,
// the body encoded as real JSON. Header values may hold `${env.NAME}`,
// read when the flow loads and never logged, echoed or put into messages.
// The request runs on the run's loop (HttpClient); cancelling the step
// aborts it. Shared read-only by concurrent runs.
#include <algorithm>
#include <cctype>
#include <map>

#include "core/json_text.h"

#include "llm/openai_wire.h"
#include "steps/builtin_steps.h"
#include "steps/http_request.h"
#include "steps/http_requester.h"

namespace flowrun {
namespace {

constexpr long long kMaxResponseBytesLimit = 64LL << 20;

struct HeaderSpec {
  std::string name;
  HeaderValue value;
};

struct HttpStepSpec {
  std::string method;
  std::string url_text;  // as written (for Describe)
  Template url;
  std::vector<HeaderSpec> headers;
  std::shared_ptr<const StepValue> query;
  std::shared_ptr<const StepValue> json;
  std::vector<long long> accept_status;
  std::string output;
  HttpCall call;  // timeouts and limits
  std::vector<std::string> secrets;
};

bool HasControlOrSpace(const std::string& text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 127; });
}

bool HasLineBreakOrNul(const std::string& text) {
  return text.find_first_of(std::string("\r\n\0", 3)) != std::string::npos;
}

// RFC 9110 token characters.
bool IsFieldName(const std::string& name) {
  static const std::string kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecials.find(c) != std::string::npos;
  });
}

bool SameName(std::string a, std::string b) {
  auto lower = [](std::string& s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  lower(a);
  lower(b);
  return a == b;
}

class HttpRequesterImpl final : public HttpRequester {
 public:
  HttpRequesterImpl(HttpStepSpec spec, std::shared_ptr<HttpClient> client)
      : spec_(std::move(spec)), client_(std::move(client)) {}

  Task<Status> Send(const nlohmann::json& state, EventLoop& loop, CancelScope& scope,
                    nlohmann::json* output) const override {
    HttpCall call = spec_.call;
    if (Status built = Build(state, &call); !built.ok()) co_return Redacted(built);
    HttpAnswer answer;
    HttpFault fault = HttpFault::kNone;
    Status sent = co_await client_->Send(call, &answer, loop, scope, &fault);
    if (!sent.ok()) co_return Redacted(sent);
    *output = ResponseOutput(answer, spec_.secrets);
    const bool accepted = (answer.status >= 200 && answer.status < 300) ||
                          std::find(spec_.accept_status.begin(), spec_.accept_status.end(), answer.status) !=
                              spec_.accept_status.end();
    if (accepted) co_return Status::Ok();
    std::string message = call.method + " " + spec_.url_text + " answered HTTP " + std::to_string(answer.status);
    const std::string excerpt = Abbreviate(Redact(answer.body, spec_.secrets), 200);
    if (!excerpt.empty()) message += ": " + excerpt;
    co_return Status::UpstreamError(std::move(message));
  }

  std::string Describe() const override { return spec_.method + " " + spec_.url_text; }
  const std::string& output_key() const override { return spec_.output; }

 private:
  Status Build(const nlohmann::json& state, HttpCall* call) const {
    call->method = spec_.method;
    if (Status rendered = spec_.url.Render(state, &call->url); !rendered.ok()) return Context("'url'", rendered);
    if (HasControlOrSpace(call->url)) {
      return Status::InvalidArgument("the url holds a space or a control character once rendered; pass values "
                                     "that need encoding in 'query'");
    }
    if (spec_.query) {
      nlohmann::json query;
      if (Status evaluated = spec_.query->Evaluate(state, &query); !evaluated.ok()) return Context("'query'", evaluated);
      if (Status appended = AppendQuery(query, &call->url); !appended.ok()) return appended;
    }
    bool has_content_type = false;
    for (const auto& header : spec_.headers) {
      std::string value;
      if (Status rendered = header.value.Render(state, &value); !rendered.ok()) {
        return Context("header '" + header.name + "'", rendered);
      }
      if (HasLineBreakOrNul(value)) {
        return Status::InvalidArgument("header '" + header.name + "' would hold a line break or a NUL once rendered");
      }
      has_content_type = has_content_type || SameName(header.name, "content-type");
      call->headers.emplace_back(header.name, std::move(value));
    }
    if (spec_.json) {
      nlohmann::json body;
      if (Status evaluated = spec_.json->Evaluate(state, &body); !evaluated.ok()) return Context("'json'", evaluated);
      call->body = DumpJson(body);
      if (!has_content_type) call->headers.emplace_back("Content-Type", "application/json");
    }
    return Status::Ok();
  }

  static Status Context(const std::string& what, const Status& status) {
    return Status::Error(status.code(), "in " + what + ": " + status.message());
  }

  Status Redacted(const Status& status) const {
    return Status::Error(status.code(), Redact(status.message(), spec_.secrets));
  }

  HttpStepSpec spec_;
  std::shared_ptr<HttpClient> client_;
};

class HttpStep : public Step {
 public:
  explicit HttpStep(std::shared_ptr<const HttpRequester> requester) : requester_(std::move(requester)) {}

  Task<Status> RunAsync(StepContext& context) const override {
    if (context.loop == nullptr || context.scope == nullptr) co_return Status::Internal("the http step needs a run loop");
    nlohmann::json output;
    Status sent = co_await requester_->Send(context.state, *context.loop, *context.scope, &output);
    if (!output.is_null()) context.state[requester_->output_key()] = std::move(output);
    co_return sent;
  }

  std::string Describe() const override { return requester_->Describe(); }

 private:
  std::shared_ptr<const HttpRequester> requester_;
};

}  // namespace

std::shared_ptr<const HttpRequester> HttpRequester::Make(const StepConfig& config, const StepEnvironment& environment,
                                                         Status* error) {
  const auto& params = config.params;
  HttpStepSpec spec;
  spec.url_text = params.at("url").get<std::string>();
  std::string origin;
  if (Status literal = LiteralOrigin(spec.url_text, &origin); !literal.ok()) {
    *error = literal;
    return nullptr;
  }
  spec.url = config.templates.at("url");
  if (auto found = config.values.find("json"); found != config.values.end()) spec.json = found->second;
  if (auto found = config.values.find("query"); found != config.values.end()) spec.query = found->second;
  spec.method = params.contains("method") ? params.at("method").get<std::string>() : (spec.json ? "POST" : "GET");
  if (spec.json && (spec.method == "GET" || spec.method == "HEAD")) {
    *error = Status::InvalidArgument("a " + spec.method + " request cannot send a 'json' body; use POST, PUT or PATCH");
    return nullptr;
  }
  if (params.contains("headers")) {
    for (const auto& [name, value] : params.at("headers").items()) {
      if (!IsFieldName(name)) {
        *error = Status::InvalidArgument("header name '" + name + "' is not a valid HTTP field name");
        return nullptr;
      }
      if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
        *error = Status::InvalidArgument("header '" + name + "' must be text, got " + std::string(value.type_name()));
        return nullptr;
      }
      std::string why;
      auto compiled = HeaderValue::Compile(value.is_string() ? value.get<std::string>() : value.dump(),
                                           environment.getenv, &why);
      if (!compiled) {
        *error = Status::InvalidArgument("header '" + name + "': " + why);
        return nullptr;
      }
      for (const auto& secret : compiled->secrets()) spec.secrets.push_back(secret);
      spec.headers.push_back({name, std::move(*compiled)});
    }
  }
  if (params.contains("accept_status")) {
    for (const auto& status : params.at("accept_status")) {
      const long long code = status.get<long long>();
      if (code < 100 || code > 599) {
        *error = Status::InvalidArgument("'accept_status' holds " + std::to_string(code) +
                                         ", which is not an HTTP status (100 to 599)");
        return nullptr;
      }
      spec.accept_status.push_back(code);
    }
  }
  const long long max_bytes = params.at("max_response_bytes").get<long long>();
  if (max_bytes < 1 || max_bytes > kMaxResponseBytesLimit) {
    *error = Status::InvalidArgument("'max_response_bytes' must be between 1 and " +
                                     std::to_string(kMaxResponseBytesLimit));
    return nullptr;
  }
  for (const char* name : {"connect_timeout_ms", "response_timeout_ms"}) {
    const long long value = params.at(name).get<long long>();
    if (value < 0 || value > 3600000) {
      *error = Status::InvalidArgument(std::string("'") + name + "' must be between 0 and 3600000");
      return nullptr;
    }
  }
  spec.call.max_response_bytes = static_cast<size_t>(max_bytes);
  spec.call.connect_timeout_ms = params.at("connect_timeout_ms").get<long>();
  spec.call.timeout_ms = params.at("response_timeout_ms").get<long>();
  spec.output = params.at("output").get<std::string>();
  std::shared_ptr<HttpClient> client = environment.http_client ? environment.http_client : CurlHttpClient();
  return std::make_shared<HttpRequesterImpl>(std::move(spec), std::move(client));
}

namespace {

std::unique_ptr<Step> MakeHttpStep(const StepConfig& config, const StepEnvironment& environment, Status* error) {
  std::shared_ptr<const HttpRequester> requester = HttpRequester::Make(config, environment, error);
  if (requester == nullptr) return nullptr;
  return std::make_unique<HttpStep>(std::move(requester));
}

}  // namespace

StepType HttpStepType() {
  StepType type;
  type.name = "http";
  type.description =
      "Calls an HTTP API and stores {status, headers, body} in `output` (body parsed when the response is JSON).";
  type.params = {
      {"method", ParamType::kString, false, nullptr, "GET, or POST when there is a json body",
       {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}},
      {"url", ParamType::kTemplate, true, nullptr,
       "a template whose scheme and host are literal: http(s)://host[:port]/path{{ ... }}", {}},
      {"headers", ParamType::kValues, false, nullptr,
       "header name: value (a template; ${env.NAME} reads the environment when the flow loads)", {}},
      {"query", ParamType::kValues, false, nullptr, "name: value pairs appended to the url, percent-encoded", {}},
      {"json", ParamType::kValues, false, nullptr,
       "the body as a mapping of values (templates), sent as JSON with Content-Type: application/json", {}},
      {"accept_status", ParamType::kIntegerList, false, nullptr,
       "statuses besides 2xx that are not an error (the output holds the response either way)", {}},
      {"max_response_bytes", ParamType::kInteger, false, 1048576, "a larger response is an error", {}},
      {"connect_timeout_ms", ParamType::kInteger, false, 10000, "the connection must be up within this", {}},
      {"response_timeout_ms", ParamType::kInteger, false, 30000,
       "the whole response must have arrived within this (0: no limit of its own)", {}},
      {"output", ParamType::kString, false, "response", "the state key that receives {status, headers, body}", {}},
  };
  type.factory = MakeHttpStep;
  return type;
}

}  // namespace flowrun
