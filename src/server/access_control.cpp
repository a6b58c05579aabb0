// API-key checks and CORS.
#include "server/access_control.h"

#include <algorithm>
#include <cctype>

#include "server/flow_service.h"

namespace flowrun {
namespace {

// The playground page and the health check stay open: load balancers and a
// browser opening the page do not carry keys.
bool IsPublic(const HttpRequest& request) {
  return (request.method == "GET" || request.method == "HEAD") && (request.path == "/" || request.path == "/healthz");
}

bool SameName(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Browsers reject a doubled Access-Control-Allow-Origin: each CORS header is
// sent once, replacing any value set before.
void SetHeaderOnce(HttpResponse& response, const std::string& name, const std::string& value) {
  std::erase_if(response.headers, [&](const auto& header) { return SameName(header.first, name); });
  response.headers.emplace_back(name, value);
}

// Adds Origin to the response's one Vary header.
void VaryOnOrigin(HttpResponse& response) {
  for (auto& [name, value] : response.headers) {
    if (!SameName(name, "Vary")) continue;
    if (value.find("Origin") == std::string::npos) value += ", Origin";
    return;
  }
  response.headers.emplace_back("Vary", "Origin");
}

}  // namespace

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  const size_t length = std::max(a.size(), b.size());
  for (size_t i = 0; i < length; ++i) {
    const unsigned char left = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char right = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= left ^ right;
  }
  return difference == 0;
}

bool AccessControl::OriginAllowed(const std::string& origin) const {
  for (const auto& allowed : cors_origins_) {
    if (allowed == origin) return true;
  }
  return false;
}

bool AccessControl::KeyAccepted(const std::string& authorization) const {
  const std::string prefix = "Bearer ";
  if (authorization.size() <= prefix.size() || authorization.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string key = authorization.substr(prefix.size());
  bool accepted = false;
  for (const auto& candidate : api_keys_) accepted = ConstantTimeEquals(key, candidate) || accepted;
  return accepted;
}

std::optional<HttpResponse> AccessControl::Check(const HttpRequest& request) const {
  const std::string origin = request.Header("origin");
  if (request.method == "OPTIONS" && !origin.empty() && !request.Header("access-control-request-method").empty()) {
    if (!OriginAllowed(origin)) {
      return JsonError(403, "origin " + origin + " is not allowed; start flowrun with --cors-origin " + origin);
    }
    HttpResponse preflight;
    preflight.status = 204;
    preflight.content_type = "";
    // Allow-Origin and Vary come from Decorate, as on every other answer.
    preflight.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                         {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id"},
                         {"Access-Control-Max-Age", "600"}};
    return preflight;
  }
  if (requires_key() && !IsPublic(request) && !KeyAccepted(request.Header("authorization"))) {
    HttpResponse denied = JsonError(401, "missing or invalid API key; send Authorization: Bearer <key>");
    denied.headers.emplace_back("WWW-Authenticate", "Bearer");
    return denied;
  }
  return std::nullopt;
}

void AccessControl::Decorate(const HttpRequest& request, HttpResponse& response) const {
  if (cors_origins_.empty()) return;
  // The answer depends on Origin whenever origins are configured (allowed or
  // not), so caches must keep one copy per origin.
  VaryOnOrigin(response);
  const std::string origin = request.Header("origin");
  if (origin.empty() || !OriginAllowed(origin)) return;
  SetHeaderOnce(response, "Access-Control-Allow-Origin", origin);
  SetHeaderOnce(response, "Access-Control-Expose-Headers", "X-Request-Id");
}

}  // namespace flowrun
