// Parsing of API key sources; see api_keys.h.
#include "server/api_keys.h"

namespace flowrun {
namespace {

constexpr std::string_view kBlank = " \t\r\n\v\f";

std::string_view Trim(std::string_view text) {
  const size_t start = text.find_first_not_of(kBlank);
  if (start == std::string_view::npos) return {};
  return text.substr(start, text.find_last_not_of(kBlank) - start + 1);
}

// Whitespace or a control byte: never part of a key a client can send in
// one Authorization header, so most likely a comment or two keys on a line.
bool HasBlankOrControl(std::string_view key) {
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// Adds `key` found at `where` ("keys.txt:3", "FLOWRUN_API_KEYS entry 2").
Status AddKey(std::string_view key, const std::string& where, const std::string& fix, ApiKeys* out) {
  if (HasBlankOrControl(key)) {
    return Status::InvalidArgument(where + ": a key must not contain whitespace or control characters; " + fix);
  }
  if (key.size() < kMinApiKeyLength) {
    out->warnings.push_back(where + ": the key is shorter than " + std::to_string(kMinApiKeyLength) +
                            " characters; use a long random key (e.g. openssl rand -hex 32)");
  }
  out->keys.emplace_back(key);
  return Status::Ok();
}

}  // namespace

Status ParseApiKeyFile(std::string_view text, const std::string& file, ApiKeys* out) {
  size_t found = 0;
  int line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line_number;
    const std::string_view key = Trim(text.substr(start, end - start));
    start = end + 1;
    if (key.empty() || key[0] == '#') continue;
    Status added = AddKey(key, file + ":" + std::to_string(line_number),
                          "comments are whole lines starting with '#'", out);
    if (!added.ok()) return added;
    ++found;
  }
  if (found == 0) return Status::InvalidArgument("--api-key-file " + file + " holds no key");
  return Status::Ok();
}

Status ParseApiKeyList(std::string_view list, ApiKeys* out) {
  size_t found = 0;
  int entry = 0;
  for (size_t start = 0; start <= list.size();) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    ++entry;
    const std::string_view key = Trim(list.substr(start, comma - start));
    start = comma + 1;
    if (key.empty()) continue;
    Status added = AddKey(key, "FLOWRUN_API_KEYS entry " + std::to_string(entry), "separate keys with commas", out);
    if (!added.ok()) return added;
    ++found;
  }
  if (found == 0) {
    return Status::InvalidArgument(
        "FLOWRUN_API_KEYS is set but holds no key; set it to comma-separated keys, or unset it to serve without keys");
  }
  return Status::Ok();
}

}  // namespace flowrun
