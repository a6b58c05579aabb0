// FlowGraph as Mermaid, Graphviz DOT and JSON. Both texts define every node
// first, inside the subgraphs of the blocks that hold it (Mermaid places a
// node in the subgraph where it first appears), then every edge.
#include <map>
#include <set>

#include "flow/flow_graph.h"

namespace flowrun {
namespace {

// Words Mermaid or DOT would read as syntax when used as a node id.
bool IsKeyword(const std::string& word) {
  static const std::set<std::string> kKeywords = {
      "end", "graph", "flowchart", "subgraph", "style", "classdef", "class", "click", "linkstyle",
      "direction", "default", "node", "edge", "digraph", "strict"};
  std::string lower;
  for (char c : word) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return kKeywords.count(lower) != 0;
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Ids safe in both languages ([A-Za-z_][A-Za-z0-9_]*, no keyword), unique:
// the path with every other character as '_', and "_2", "_3"... on a clash.
class IdMaker {
 public:
  std::string Make(const std::string& text) {
    std::string base;
    for (char c : text) base += IsIdChar(c) ? c : '_';
    if (base.empty() || (base[0] >= '0' && base[0] <= '9')) base = "n_" + base;
    if (IsKeyword(base)) base += "_";
    std::string id = base;
    for (int n = 2; !used_.insert(id).second; ++n) id = base + "_" + std::to_string(n);
    return id;
  }

 private:
  std::set<std::string> used_;
};

std::vector<std::string> LabelLines(const GraphNode& node) {
  switch (node.kind) {
    case GraphNode::Kind::kStart:
      return {"start"};
    case GraphNode::Kind::kEnd:
      return {"end"};
    case GraphNode::Kind::kFlow:
      return {"flow " + node.path};
    case GraphNode::Kind::kStep:
      break;
  }
  std::vector<std::string> lines = {node.id, node.type};
  lines.insert(lines.end(), node.detail.begin(), node.detail.end());
  if (!node.condition.empty()) lines.push_back("if: " + node.condition);
  return lines;
}

// The graph's layout for both texts: ids, and which nodes each block holds.
struct Layout {
  std::vector<std::string> ids;                            // per node
  std::map<std::pair<size_t, std::string>, std::vector<size_t>> children;  // (step, block) -> steps
  std::map<std::pair<size_t, std::string>, std::string> block_ids;
  std::vector<size_t> top;  // top-level steps
};

Layout MakeLayout(const FlowGraph& graph) {
  Layout layout;
  layout.ids.resize(graph.nodes.size());
  IdMaker ids;
  std::map<std::string, size_t> by_path;
  // Start, end and called flows first: their ids are fixed; steps yield on a clash.
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const GraphNode& node = graph.nodes[i];
    if (node.kind == GraphNode::Kind::kStart) layout.ids[i] = ids.Make("flow_start");
    if (node.kind == GraphNode::Kind::kEnd) layout.ids[i] = ids.Make("flow_end");
    if (node.kind == GraphNode::Kind::kFlow) layout.ids[i] = ids.Make("flow_" + node.path);
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const GraphNode& node = graph.nodes[i];
    if (node.kind != GraphNode::Kind::kStep) continue;
    layout.ids[i] = ids.Make(node.path);
    if (node.block.empty()) {
      layout.top.push_back(i);
    } else if (auto parent = by_path.find(node.parent); parent != by_path.end()) {
      layout.children[{parent->second, node.block}].push_back(i);
    }
    by_path.emplace(node.path, i);
  }
  for (const auto& [key, members] : layout.children) {
    layout.block_ids[key] = ids.Make(graph.nodes[key.first].path + "/" + key.second);
  }
  return layout;
}

std::string MermaidText(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '#': out += "#35;"; break;
      case '"': out += "#quot;"; break;
      case '<': out += "#lt;"; break;
      case '>': out += "#gt;"; break;
      case '&': out += "#amp;"; break;
      case '|': out += "#124;"; break;
      default: out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return out;
}

std::string DotText(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  return out;
}

std::string Joined(const std::vector<std::string>& lines, std::string (*escape)(const std::string&),
                   const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? separator : "") + escape(lines[i]);
  return out;
}

// Writes the nodes of one language: a node, then the subgraphs of its blocks.
class NodeWriter {
 public:
  NodeWriter(const FlowGraph& graph, const Layout& layout, bool dot) : graph_(graph), layout_(layout), dot_(dot) {}

  std::string Write() {
    std::string out;
    Node(0, 1, out);
    for (size_t i : layout_.top) Node(i, 1, out);
    for (size_t i = 1; i < graph_.nodes.size(); ++i) {
      if (graph_.nodes[i].kind != GraphNode::Kind::kStep) Node(i, 1, out);
    }
    return out;
  }

 private:
  void Node(size_t index, int depth, std::string& out) {
    if (!written_.insert(index).second) return;
    const std::string indent(2 * depth, ' ');
    out += indent + (dot_ ? DotNode(index) : MermaidNode(index)) + "\n";
    for (const std::string& block : graph_.nodes[index].blocks) {
      auto members = layout_.children.find({index, block});
      if (members == layout_.children.end()) continue;  // an empty block
      const std::string& id = layout_.block_ids.at({index, block});
      if (dot_) {
        out += indent + "subgraph cluster_" + id + " {\n" + indent + "  label=\"" + DotText(block) + "\";\n";
      } else {
        out += indent + "subgraph " + id + " [\"" + MermaidText(block) + "\"]\n";
      }
      for (size_t member : members->second) Node(member, depth + 1, out);
      out += indent + (dot_ ? "}" : "end") + "\n";
    }
  }

  std::string MermaidNode(size_t index) const {
    const GraphNode& node = graph_.nodes[index];
    const std::string text = "\"" + Joined(LabelLines(node), MermaidText, "<br/>") + "\"";
    const std::string& id = layout_.ids[index];
    if (node.kind == GraphNode::Kind::kStart || node.kind == GraphNode::Kind::kEnd) return id + "((" + text + "))";
    if (node.kind == GraphNode::Kind::kFlow) return id + "([" + text + "])";
    if (node.type == "if" || node.type == "switch") return id + "{" + text + "}";
    if (node.type == "loop" || node.type == "map") return id + "{{" + text + "}}";
    if (node.type == "parallel") return id + "[/" + text + "\\]";
    if (node.type == "call") return id + "[[" + text + "]]";
    if (node.type == "fail") return id + ">" + text + "]";
    return id + "[" + text + "]";
  }

  std::string DotNode(size_t index) const {
    const GraphNode& node = graph_.nodes[index];
    std::string shape;
    if (node.kind == GraphNode::Kind::kStart) shape = "circle";
    if (node.kind == GraphNode::Kind::kEnd) shape = "doublecircle";
    if (node.kind == GraphNode::Kind::kFlow) shape = "folder";
    if (node.type == "if" || node.type == "switch") shape = "diamond";
    if (node.type == "loop" || node.type == "map") shape = "hexagon";
    if (node.type == "parallel") shape = "trapezium";
    if (node.type == "call") shape = "component";
    if (node.type == "fail") shape = "octagon";
    return layout_.ids[index] + " [label=\"" + Joined(LabelLines(node), DotText, "\\n") + "\"" +
           (shape.empty() ? "" : ", shape=" + shape) + "];";
  }

  const FlowGraph& graph_;
  const Layout& layout_;
  const bool dot_;
  std::set<size_t> written_;
};

bool Dashed(GraphEdge::Kind kind) {
  return kind == GraphEdge::Kind::kRepeat || kind == GraphEdge::Kind::kError || kind == GraphEdge::Kind::kCall;
}

const char* KindName(GraphEdge::Kind kind) {
  switch (kind) {
    case GraphEdge::Kind::kNext: return "next";
    case GraphEdge::Kind::kBranch: return "branch";
    case GraphEdge::Kind::kRepeat: return "repeat";
    case GraphEdge::Kind::kError: return "error";
    case GraphEdge::Kind::kCall: return "call";
  }
  return "next";
}

const char* KindName(GraphNode::Kind kind) {
  switch (kind) {
    case GraphNode::Kind::kStart: return "start";
    case GraphNode::Kind::kStep: return "step";
    case GraphNode::Kind::kEnd: return "end";
    case GraphNode::Kind::kFlow: return "flow";
  }
  return "step";
}

}  // namespace

std::string GraphToMermaid(const FlowGraph& graph) {
  const Layout layout = MakeLayout(graph);
  std::string out = "flowchart TD\n" + NodeWriter(graph, layout, false).Write();
  for (const GraphEdge& edge : graph.edges) {
    out += "  " + layout.ids[edge.from] + (Dashed(edge.kind) ? " -.->" : " -->");
    if (!edge.label.empty()) out += "|\"" + MermaidText(edge.label) + "\"|";
    out += " " + layout.ids[edge.to] + "\n";
  }
  return out;
}

std::string GraphToDot(const FlowGraph& graph) {
  const Layout layout = MakeLayout(graph);
  std::string out = "digraph \"" + DotText(graph.name) + "\" {\n  graph [fontname=\"Helvetica\"];\n" +
                    "  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n" +
                    NodeWriter(graph, layout, true).Write();
  for (const GraphEdge& edge : graph.edges) {
    std::string attributes;
    if (!edge.label.empty()) attributes = "label=\"" + DotText(edge.label) + "\"";
    if (Dashed(edge.kind)) attributes += std::string(attributes.empty() ? "" : ", ") + "style=dashed";
    out += "  " + layout.ids[edge.from] + " -> " + layout.ids[edge.to] +
           (attributes.empty() ? "" : " [" + attributes + "]") + ";\n";
  }
  return out + "}\n";
}

nlohmann::json GraphToJson(const FlowGraph& graph) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const GraphNode& node : graph.nodes) {
    nlohmann::json item = {{"kind", KindName(node.kind)}};
    if (node.kind == GraphNode::Kind::kFlow) item["name"] = node.path;
    if (node.kind == GraphNode::Kind::kStep) {
      item.update({{"path", node.path},
                   {"id", node.id},
                   {"type", node.type},
                   {"parent", node.parent},
                   {"block", node.block},
                   {"blocks", node.blocks},
                   {"detail", Joined(node.detail, [](const std::string& text) { return text; }, ", ")},
                   {"if", node.condition},
                   {"line", node.line}});
    }
    nodes.push_back(std::move(item));
  }
  nlohmann::json edges = nlohmann::json::array();
  for (const GraphEdge& edge : graph.edges) {
    edges.push_back({{"from", edge.from}, {"to", edge.to}, {"label", edge.label}, {"kind", KindName(edge.kind)}});
  }
  return {{"name", graph.name}, {"nodes", std::move(nodes)}, {"edges", std::move(edges)}};
}

}  // namespace flowrun
