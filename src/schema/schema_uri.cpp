// RFC 3986 reference resolution (section 5.2) with remove_dot_segments;
// enough URI parsing for it, nothing else (no normalisation of case or of
// %-escapes in the path).
#include "schema/schema_uri.h"

#include <optional>

namespace flowrun::schema_internal {
namespace {

struct UriParts {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;
};

// The regular expression of RFC 3986 appendix B, by hand.
UriParts Parse(std::string_view uri) {
  UriParts parts;
  size_t hash = uri.find('#');
  if (hash != std::string_view::npos) {
    parts.fragment = std::string(uri.substr(hash + 1));
    uri = uri.substr(0, hash);
  }
  size_t question = uri.find('?');
  if (question != std::string_view::npos) {
    parts.query = std::string(uri.substr(question + 1));
    uri = uri.substr(0, question);
  }
  size_t colon = uri.find(':');
  if (colon != std::string_view::npos && colon > 0 && uri.substr(0, colon).find('/') == std::string_view::npos) {
    parts.scheme = std::string(uri.substr(0, colon));
    uri = uri.substr(colon + 1);
  }
  if (uri.substr(0, 2) == "//") {
    uri = uri.substr(2);
    size_t slash = uri.find('/');
    parts.authority = std::string(uri.substr(0, slash));
    uri = slash == std::string_view::npos ? std::string_view() : uri.substr(slash);
  }
  parts.path = std::string(uri);
  return parts;
}

std::string RemoveDotSegments(std::string_view input) {
  std::string output;
  while (!input.empty()) {
    if (input.substr(0, 3) == "../") {
      input.remove_prefix(3);
    } else if (input.substr(0, 2) == "./") {
      input.remove_prefix(2);
    } else if (input.substr(0, 3) == "/./") {
      input.remove_prefix(2);
    } else if (input == "/.") {
      input = "/";
    } else if (input.substr(0, 4) == "/../" || input == "/..") {
      input = input.size() == 3 ? std::string_view("/") : input.substr(3);
      size_t last = output.rfind('/');
      output.erase(last == std::string::npos ? 0 : last);
    } else if (input == "." || input == "..") {
      input = {};
    } else {
      size_t next = input.find('/', input[0] == '/' ? 1 : 0);
      output += input.substr(0, next);
      input = next == std::string_view::npos ? std::string_view() : input.substr(next);
    }
  }
  return output;
}

std::string Merge(const UriParts& base, std::string_view reference_path) {
  if (base.authority && base.path.empty()) return "/" + std::string(reference_path);
  size_t last = base.path.rfind('/');
  if (last == std::string::npos) return std::string(reference_path);
  return base.path.substr(0, last + 1) + std::string(reference_path);
}

std::string Recompose(const UriParts& parts) {
  std::string uri;
  if (parts.scheme) uri += *parts.scheme + ":";
  if (parts.authority) uri += "//" + *parts.authority;
  uri += parts.path;
  if (parts.query) uri += "?" + *parts.query;
  if (parts.fragment) uri += "#" + *parts.fragment;
  return uri;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string ResolveUri(std::string_view base, std::string_view reference) {
  const UriParts b = Parse(base);
  const UriParts r = Parse(reference);
  UriParts t;
  if (r.scheme) {
    t = r;
    t.path = RemoveDotSegments(r.path);
  } else {
    t.scheme = b.scheme;
    if (r.authority) {
      t.authority = r.authority;
      t.path = RemoveDotSegments(r.path);
      t.query = r.query;
    } else {
      t.authority = b.authority;
      if (r.path.empty()) {
        t.path = b.path;
        t.query = r.query ? r.query : b.query;
      } else {
        t.path = RemoveDotSegments(r.path[0] == '/' ? r.path : Merge(b, r.path));
        t.query = r.query;
      }
    }
  }
  t.fragment = r.fragment;
  return Recompose(t);
}

void SplitFragment(std::string_view uri, std::string* without_fragment, std::string* fragment) {
  size_t hash = uri.find('#');
  *without_fragment = std::string(uri.substr(0, hash));
  *fragment = hash == std::string_view::npos ? std::string() : std::string(uri.substr(hash + 1));
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string EscapePointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace flowrun::schema_internal
