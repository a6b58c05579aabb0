// The network-free parts of the http step: origin check, header values with
// environment references, query encoding, the response as output.
#include "steps/http_request.h"

#include <cctype>

#include "core/json_escape.h"
#include "core/json_text.h"

namespace flowrun {
namespace {

// Deeper JSON bodies are kept as text (the state's own depth bound is 64
// levels below the step's output).
constexpr int kMaxResponseNesting = 64;

bool IsVariableChar(char c, bool first) {
  return c == '_' || std::isalpha(static_cast<unsigned char>(c)) || (!first && std::isdigit(static_cast<unsigned char>(c)));
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Text that is valid UTF-8 (bad sequences replaced by U+FFFD).
std::string ValidUtf8(std::string text) {
  std::string probe;
  if (AppendJsonStringIfValidUtf8(text, probe)) return text;
  return nlohmann::json::parse(DumpJson(nlohmann::json(std::move(text)))).get<std::string>();
}

}  // namespace

bool NestingWithin(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

namespace {

Status QueryValue(const std::string& name, const nlohmann::json& value, std::string* out) {
  if (value.is_string()) {
    *out = value.get<std::string>();
  } else if (value.is_number() || value.is_boolean()) {
    *out = DumpJson(value);
  } else {
    return Status::InvalidArgument("query '" + name + "' must be text, a number, a boolean or a list of them, got " +
                                   std::string(value.type_name()));
  }
  return Status::Ok();
}

}  // namespace

Status LiteralOrigin(std::string_view url, std::string* origin) {
  const std::string lower = Lower(url.substr(0, 8));
  size_t host_start = 0;
  if (lower.rfind("http://", 0) == 0) {
    host_start = 7;
  } else if (lower.rfind("https://", 0) == 0) {
    host_start = 8;
  } else {
    return Status::InvalidArgument("'url' must start with http:// or https://, written out in the flow");
  }
  size_t template_start = std::string_view::npos;
  for (const char* open : {"{{", "{%", "{#"}) template_start = std::min(template_start, url.find(open));
  const size_t host_end = url.find_first_of("/?#", host_start);
  const size_t end = host_end == std::string_view::npos ? url.size() : host_end;
  if (template_start != std::string_view::npos && template_start < end) {
    return Status::InvalidArgument(
        "'url' must name its scheme and host literally, before any {{ }}, so that no request value can choose "
        "where flowrun connects");
  }
  const std::string_view host = url.substr(host_start, end - host_start);
  if (host.empty()) return Status::InvalidArgument("'url' has no host");
  if (host.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("'url' may not hold a user name or password: send credentials in 'headers'");
  }
  for (char c : host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\\') {
      return Status::InvalidArgument("'url' has a space or a control character in its host");
    }
  }
  *origin = std::string(url.substr(0, end));
  return Status::Ok();
}

std::optional<HeaderValue> HeaderValue::Compile(
    std::string_view text, const std::function<std::optional<std::string>(const std::string&)>& getenv,
    std::string* error) {
  HeaderValue value;
  auto add_text = [&](std::string_view piece) {
    if (piece.empty()) return true;
    Template::CompileError compile_error;
    auto compiled = Template::Compile(piece, &compile_error);
    if (!compiled) {
      *error = compile_error.message;
      return false;
    }
    Part part;
    part.text = std::move(*compiled);
    value.parts_.push_back(std::move(part));
    return true;
  };
  size_t at = 0;
  while (true) {
    const size_t ref = text.find("${env.", at);
    if (ref == std::string_view::npos) break;
    if (!add_text(text.substr(at, ref - at))) return std::nullopt;
    size_t name_end = ref + 6;
    while (name_end < text.size() && IsVariableChar(text[name_end], name_end == ref + 6)) ++name_end;
    if (name_end == ref + 6 || name_end >= text.size() || text[name_end] != '}') {
      *error = "'${env.' needs a variable name (letters, digits, '_') and a closing '}'";
      return std::nullopt;
    }
    Part part;
    part.variable = std::string(text.substr(ref + 6, name_end - ref - 6));
    if (getenv) part.resolved = getenv(part.variable);
    if (part.resolved && !part.resolved->empty()) value.secrets_.push_back(*part.resolved);
    value.parts_.push_back(std::move(part));
    at = name_end + 1;
  }
  if (!add_text(text.substr(at))) return std::nullopt;
  return value;
}

Status HeaderValue::Render(const nlohmann::json& state, std::string* out) const {
  out->clear();
  for (const Part& part : parts_) {
    if (part.text) {
      std::string piece;
      if (Status rendered = part.text->Render(state, &piece); !rendered.ok()) return rendered;
      *out += piece;
    } else if (part.resolved) {
      *out += *part.resolved;
    } else {
      return Status::NotFound("needs the environment variable " + part.variable + ", which is not set");
    }
  }
  return Status::Ok();
}

std::string PercentEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status AppendQuery(const nlohmann::json& query, std::string* url) {
  if (!query.is_object()) return Status::Ok();
  std::string pairs;
  for (const auto& [name, value] : query.items()) {
    std::vector<nlohmann::json> values;
    if (value.is_array()) {
      values.assign(value.begin(), value.end());
    } else if (!value.is_null()) {
      values.push_back(value);
    }
    for (const auto& item : values) {
      std::string text;
      if (Status status = QueryValue(name, item, &text); !status.ok()) return status;
      pairs += (pairs.empty() ? "" : "&") + PercentEncode(name) + "=" + PercentEncode(text);
    }
  }
  if (pairs.empty()) return Status::Ok();
  const size_t fragment = url->find('#');
  if (fragment != std::string::npos) url->erase(fragment);
  *url += (url->find('?') == std::string::npos ? "?" : "&") + pairs;
  return Status::Ok();
}

std::string Redact(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 10)) {
      text.replace(at, secret.size(), "[redacted]");
    }
  }
  return text;
}

nlohmann::json ResponseOutput(const HttpAnswer& answer, const std::vector<std::string>& secrets) {
  nlohmann::json headers = nlohmann::json::object();
  std::string content_type;
  for (const auto& [name, value] : answer.headers) {
    const std::string clean = ValidUtf8(Redact(value, secrets));
    if (name == "content-type") content_type = Lower(clean);
    if (headers.contains(name)) {
      headers[name] = headers[name].get<std::string>() + ", " + clean;
    } else {
      headers[name] = clean;
    }
  }
  std::string text = Redact(answer.body, secrets);
  nlohmann::json body = nlohmann::json::value_t::discarded;
  const bool json_type = content_type.find("json") != std::string::npos;
  if (json_type && NestingWithin(text, kMaxResponseNesting)) body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) body = ValidUtf8(std::move(text));
  return {{"status", answer.status}, {"headers", std::move(headers)}, {"body", std::move(body)}};
}

}  // namespace flowrun
