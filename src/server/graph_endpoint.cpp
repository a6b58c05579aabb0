// The graph endpoint's routing and formats.
#include "server/graph_endpoint.h"

#include "core/json_text.h"
#include "server/flow_service.h"

namespace flowrun {

std::shared_ptr<const Flow> GraphedFlow(const std::string& path,
                                        const std::map<std::string, std::shared_ptr<const Flow>>& flows) {
  static const std::string kPrefix = "/flows/";
  static const std::string kSuffix = "/graph";
  if (path.size() <= kPrefix.size() + kSuffix.size() || !path.starts_with(kPrefix) || !path.ends_with(kSuffix)) {
    return nullptr;
  }
  const std::string name = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  if (name.find('/') != std::string::npos) return nullptr;
  for (const auto& [endpoint, flow] : flows) {
    if (flow->name == name && flow->graph) return flow;
  }
  return nullptr;
}

HttpResponse GraphResponse(const Flow& flow, const HttpRequest& request) {
  auto param = request.query.find("format");
  const std::string format = param == request.query.end() ? "json" : param->second;
  HttpResponse response;
  if (format == "json") {
    response.body = DumpJson(GraphToJson(*flow.graph)) + "\n";
  } else if (format == "mermaid") {
    response.content_type = "text/plain; charset=utf-8";
    response.body = GraphToMermaid(*flow.graph);
  } else if (format == "dot") {
    response.content_type = "text/vnd.graphviz; charset=utf-8";
    response.body = GraphToDot(*flow.graph);
  } else {
    return JsonError(400, "unknown graph format '" + format + "'; use json, mermaid or dot", "format");
  }
  return response;
}

}  // namespace flowrun
