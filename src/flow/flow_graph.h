// FlowGraph: the picture of a flow, built from its file's ConfigNode tree
// (not from the compiled runner tree): every step with its path, the blocks
// of control steps (if, switch, loop, parallel, map, on_error), and the
// edges a run can take between them, including `call`s to other flows.
// `flowrun graph` prints it as Mermaid or Graphviz DOT; the server gives it
// to the playground as JSON. Node paths follow the event convention: a
// top-level step's path is its id, a nested one's `<parent>/<block>/<id>`.
// Build it from a document the compiler accepted (malformed parts are
// skipped, not reported); the YAML limits bound its size and depth. A plain
// value: immutable once built, safe to share between threads; the functions
// are pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config_node.h"

namespace flowrun {

struct GraphNode {
  enum class Kind { kStart, kStep, kEnd, kFlow };
  Kind kind = Kind::kStep;
  std::string path;     // steps: "research/branches.summary/draft"; a called flow: its name
  std::string id;       // steps: "draft" (its `id:` or step<N>)
  std::string type;     // steps: "llm-stream", "if", ...
  std::string parent;   // the path of the control step holding it; "" at the top level
  std::string block;    // its block there: "then", "else", "cases.<key>", "default", "steps",
                        // "branches.<name>", "on_error"; "" at the top level
  std::vector<std::string> blocks;  // the blocks this step holds, in file order (empty ones too)
  std::vector<std::string> detail;  // what the step does at a glance: {"max_iterations: 3", "until: review.ok"}
  std::string condition;  // the step's `if:`; "" when it always runs
  int line = 0;           // where the step starts in the file (1-based)
};

struct GraphEdge {
  // kNext: control goes on; kBranch: into a block (then, a case, a branch, a
  // map's items); kRepeat: a loop's or map's body back to its head; kError:
  // into on_error; kCall: a call step to the flow it runs.
  enum class Kind { kNext, kBranch, kRepeat, kError, kCall };
  size_t from = 0;  // indices into FlowGraph::nodes
  size_t to = 0;
  std::string label;  // "then", "billing", "each doc", "repeat", "done", "skip", ...
  Kind kind = Kind::kNext;
};

struct FlowGraph {
  std::string name;
  // The start node, the steps in file order (a step before the steps it
  // holds), the end node, then each flow called, in order of first call.
  std::vector<GraphNode> nodes;
  std::vector<GraphEdge> edges;
};

// `root` is a flow document (the mapping with version, name, steps).
FlowGraph BuildFlowGraph(const ConfigNode& root);

// `flowchart TD` Mermaid text / a Graphviz `digraph`, each ending in a newline.
// Node ids are the paths made safe for each language.
std::string GraphToMermaid(const FlowGraph& graph);
std::string GraphToDot(const FlowGraph& graph);

// {"name", "nodes": [{"kind", "path", "id", "type", "parent", "block",
// "blocks", "detail", "if", "line"}], "edges": [{"from", "to", "label",
// "kind"}]}, edges naming nodes by index, a node's detail one string joined
// with ", " (what GET /flows/<name>/graph sends).
nlohmann::json GraphToJson(const FlowGraph& graph);

}  // namespace flowrun
