// libFuzzer target: the http step's encodings (issue #13: "the http step's
// body encoding is fuzzed"). The input's bytes, as a value from the state,
// go where an http step puts values: a `json:` body (encoded with DumpJson,
// as the step sends it) must always be one valid JSON document that reads
// back as the value (bad UTF-8 replaced by U+FFFD, nothing else changed);
// a `query:` value must leave only unreserved characters and %XX in the url,
// and decode back to the bytes; a header value rendered from it is refused
// exactly when it holds CR, LF or NUL; the response turned into the step's
// output never throws and always dumps.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "fuzz_check.h"
#include "steps/http_request.h"

namespace {

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool Unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string value(reinterpret_cast<const char*>(data), size);

  // The json body: one document, the value back (after UTF-8 repair).
  const nlohmann::json body = {{"text", value}, {"nested", {{"list", {value, 1, true}}}}};
  const std::string encoded = flowrun::DumpJson(body);
  const nlohmann::json decoded = nlohmann::json::parse(encoded, nullptr, false);
  FUZZ_CHECK(!decoded.is_discarded());
  const std::string repaired = nlohmann::json::parse(flowrun::DumpJson(nlohmann::json(value))).get<std::string>();
  FUZZ_CHECK(decoded["text"] == repaired);
  FUZZ_CHECK(decoded["nested"]["list"][0] == repaired);
  FUZZ_CHECK(decoded["nested"]["list"].size() == 3);

  // The query: only unreserved characters and %XX escapes, decoding back to the bytes.
  std::string url = "https://api.example.com/x";
  const nlohmann::json query_values = {{"q", value}};
  const bool appended = flowrun::AppendQuery(query_values, &url).ok();
  FUZZ_CHECK(appended);
  const std::string prefix = "https://api.example.com/x?q=";
  FUZZ_CHECK(url.rfind(prefix, 0) == 0);
  const std::string query = url.substr(prefix.size());
  for (size_t i = 0; i < query.size(); ++i) {
    if (query[i] == '%') {
      const bool escape = i + 2 < query.size() && std::isxdigit(static_cast<unsigned char>(query[i + 1])) &&
                          std::isxdigit(static_cast<unsigned char>(query[i + 2]));
      FUZZ_CHECK(escape);
      i += 2;
    } else {
      FUZZ_CHECK(Unreserved(query[i]));
    }
  }
  FUZZ_CHECK(PercentDecode(query) == value);

  // A header value rendered from state text.
  std::string error;
  auto header = flowrun::HeaderValue::Compile("Bearer ${env.T} {{ input.v }}",
                                              [](const std::string&) { return std::optional<std::string>("t"); },
                                              &error);
  FUZZ_CHECK(header.has_value());
  std::string rendered;
  const nlohmann::json state = {{"input", {{"v", value}}}};
  const bool rendered_ok = header->Render(state, &rendered).ok();
  FUZZ_CHECK(rendered_ok);
  FUZZ_CHECK(rendered == "Bearer t " + value);  // state text is never read for ${env.}

  // The response: never a throw, always dumpable.
  flowrun::HttpAnswer answer;
  answer.status = 200;
  answer.headers = {{"content-type", size % 2 == 0 ? "application/json" : "text/plain"}, {"x-v", value}};
  answer.body = value;
  const nlohmann::json output = flowrun::ResponseOutput(answer, {"secret"});
  FUZZ_CHECK(output["status"] == 200);
  FUZZ_CHECK(!output.dump().empty());  // strict dump: every string is valid UTF-8
  return 0;
}
