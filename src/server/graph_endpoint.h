// GET /flows/<name>/graph: a served flow's picture for the playground, as
// JSON (nodes with their step paths, edges), or with ?format=mermaid|dot as
// the text `flowrun graph` prints. Pure functions over immutable flows;
// thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "flow/flow.h"
#include "server/http_types.h"

namespace flowrun {

// The flow `path` asks the graph of (/flows/<name>/graph), or null. Flows
// are keyed by endpoint; the first one with that name wins.
std::shared_ptr<const Flow> GraphedFlow(const std::string& path,
                                        const std::map<std::string, std::shared_ptr<const Flow>>& flows);

// 200 with the graph, or 400 naming the `format` parameter when it is not
// json, mermaid or dot.
HttpResponse GraphResponse(const Flow& flow, const HttpRequest& request);

}  // namespace flowrun
