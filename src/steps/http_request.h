// The parts of the `http` step that need no network, kept apart so they can
// be tested alone: the literal-origin check of a `url` template, header
// values with `${env.NAME}` references, query encoding and the response
// turned into the step's output. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "llm/http_client.h"
#include "templates/template.h"

namespace flowrun {

// The `scheme://host[:port]` a url template starts with, when that part is
// literal (no {{ }}, {% %} or {# #} before the first '/', '?' or '#' after
// the host) and the scheme is http or https; otherwise an error for the
// flow file, e.g. "'url' must name its scheme and host literally, before
// any {{ }}, so that no request value can choose where flowrun connects".
Status LiteralOrigin(std::string_view url, std::string* origin);

// A header value as written: literal text and templates, with each
// `${env.NAME}` resolved when the flow loads. The secrets it holds are the
// values of the variables it names; they never go into messages.
class HeaderValue {
 public:
  // `getenv` reads the environment. Errors: a template that does not compile,
  // or a malformed reference ("'${env.' needs a variable name and '}'").
  static std::optional<HeaderValue> Compile(std::string_view text,
                                            const std::function<std::optional<std::string>(const std::string&)>& getenv,
                                            std::string* error);
  // The value against the state, or an error naming what is missing
  // ("needs the environment variable CRM_TOKEN, which is not set").
  Status Render(const nlohmann::json& state, std::string* out) const;
  // The values of the variables it uses (to redact from messages and bodies).
  const std::vector<std::string>& secrets() const { return secrets_; }

 private:
  struct Part {
    std::optional<Template> text;         // a piece of template text, or
    std::string variable;                 // a variable's name,
    std::optional<std::string> resolved;  // and its value when set
  };
  std::vector<Part> parts_;
  std::vector<std::string> secrets_;
};

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string PercentEncode(std::string_view text);

// `url` with the evaluated `query` mapping appended ("?a=1&b=x%20y", or
// "&..." when the url has a query): strings as they are, numbers and
// booleans as JSON text, null left out, a list as one pair per item.
Status AppendQuery(const nlohmann::json& query, std::string* url);

// The step's output: {status, headers: {name: value, ...}, body}, where
// body is the parsed JSON when the response says it is JSON (and parses),
// else the text (bad UTF-8 replaced). Every `secret` is replaced by
// "[redacted]" in the body first.
nlohmann::json ResponseOutput(const HttpAnswer& answer, const std::vector<std::string>& secrets);

// Whether the JSON text nests no deeper than `limit` (brackets inside
// strings do not count): check before parsing text from outside, since
// nlohmann's parser recurses once per level.
bool NestingWithin(std::string_view text, int limit);

// `text` with every secret replaced by "[redacted]".
std::string Redact(std::string text, const std::vector<std::string>& secrets);

}  // namespace flowrun
