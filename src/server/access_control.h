// Access control in front of every route: API keys (Authorization: Bearer,
// compared in constant time) and CORS for an allow-list of origins, with
// preflight answers. Immutable after construction; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/http_types.h"

namespace flowrun {

class AccessControl {
 public:
  AccessControl(std::vector<std::string> api_keys, std::vector<std::string> cors_origins)
      : api_keys_(std::move(api_keys)), cors_origins_(std::move(cors_origins)) {}

  // A response to send instead of routing (a preflight answer, 401, 403), if any.
  std::optional<HttpResponse> Check(const HttpRequest& request) const;
  // Sets the CORS headers, each exactly once (also on preflight answers):
  // Vary: Origin whenever origins are configured, Allow-Origin and
  // Expose-Headers for an allowed Origin.
  void Decorate(const HttpRequest& request, HttpResponse& response) const;

  bool requires_key() const { return !api_keys_.empty(); }

 private:
  bool OriginAllowed(const std::string& origin) const;
  bool KeyAccepted(const std::string& authorization) const;

  std::vector<std::string> api_keys_;
  std::vector<std::string> cors_origins_;
};

// Equal strings, in time that depends only on their lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace flowrun
