// Building a FlowGraph from a flow document: one walk over the step lists,
// threading the "exits" of each step (where control leaves it, with the
// label the edge will carry) into the next step.
#include "flow/flow_graph.h"

#include <map>

#include "core/json_text.h"

namespace flowrun {
namespace {

// Longest quoted value in a node's detail line; longer ones end in "…".
constexpr size_t kMaxDetailValue = 48;

std::string Shorten(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() <= kMaxDetailValue) return text;
  size_t cut = kMaxDetailValue;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return text.substr(0, cut) + "\xE2\x80\xA6";
}

// A parameter's value as written: strings as they are, anything else as JSON.
std::string Text(const ConfigNode* node) {
  if (node == nullptr) return "";
  return Shorten(node->IsString() ? node->scalar.get<std::string>() : DumpJson(node->ToJson()));
}

using Detail = std::vector<std::string>;

void AddPart(Detail& detail, const std::string& part) { detail.push_back(part); }

void AddParam(Detail& detail, const ConfigNode& step, const char* key) {
  if (const ConfigNode* value = step.Find(key)) AddPart(detail, std::string(key) + ": " + Text(value));
}

Detail StepDetail(const ConfigNode& step, const std::string& type) {
  Detail detail;
  if (type == "if") {
    AddParam(detail, step, "when");
  } else if (type == "switch") {
    AddParam(detail, step, "on");
  } else if (type == "loop") {
    const ConfigNode* bound = step.Find("max_iterations");
    AddPart(detail, bound != nullptr ? "max_iterations: " + Text(bound) : "no max_iterations");
    AddParam(detail, step, "until");
    AddParam(detail, step, "on_limit");
  } else if (type == "map") {
    for (const char* key : {"over", "as", "concurrency", "collect", "output"}) AddParam(detail, step, key);
  } else if (type == "parallel") {
    AddParam(detail, step, "stream");
  } else if (type == "call") {
    for (const char* key : {"flow", "output", "output_from"}) AddParam(detail, step, key);
  } else if (type == "set") {
    if (const ConfigNode* values = step.Find("values"); values != nullptr && values->IsMapping()) {
      std::string keys;
      for (const auto& entry : values->entries) keys += (keys.empty() ? "" : ", ") + entry.name;
      AddPart(detail, "values: " + Shorten(keys));
    }
  } else if (type == "fail") {
    AddParam(detail, step, "message");
  } else if (type == "llm-stream") {
    AddParam(detail, step, "stream");
    AddParam(detail, step, "output");
  }
  AddParam(detail, step, "timeout_ms");
  if (const ConfigNode* retry = step.Find("retry"); retry != nullptr) {
    const ConfigNode* attempts = retry->Find("max_attempts");
    AddPart(detail, attempts != nullptr ? "retry: max_attempts " + Text(attempts) : "retry");
  }
  if (const ConfigNode* on_error = step.Find("on_error"); on_error != nullptr && !on_error->IsSequence()) {
    AddPart(detail, "on_error: " + Text(on_error));
  }
  return detail;
}

struct Exit {
  size_t node;
  std::string label;
  GraphEdge::Kind kind;
};
using Exits = std::vector<Exit>;

// Where a block's steps sit: under `parent` (a step path) in `block`, or at the top level.
struct Place {
  bool nested = false;
  std::string parent;
  std::string block;
};

class GraphBuilder {
 public:
  FlowGraph Build(const ConfigNode& root) {
    if (const ConfigNode* name = root.Find("name"); name != nullptr && name->IsString()) {
      graph_.name = name->scalar.get<std::string>();
    }
    GraphNode start;
    start.kind = GraphNode::Kind::kStart;
    graph_.nodes.push_back(start);
    Exits exits = {{0, "", GraphEdge::Kind::kNext}};
    if (const ConfigNode* steps = root.Find("steps")) exits = Sequence(*steps, Place{}, std::move(exits));
    GraphNode end;
    end.kind = GraphNode::Kind::kEnd;
    graph_.nodes.push_back(end);
    Connect(exits, graph_.nodes.size() - 1);
    std::map<std::string, size_t> flows;  // called flow -> its node
    for (const auto& [from, flow] : calls_) {
      auto [found, added] = flows.emplace(flow, graph_.nodes.size());
      if (added) {
        GraphNode called;
        called.kind = GraphNode::Kind::kFlow;
        called.path = flow;
        graph_.nodes.push_back(called);
      }
      graph_.edges.push_back({from, found->second, "", GraphEdge::Kind::kCall});
    }
    return std::move(graph_);
  }

 private:
  void Connect(const Exits& exits, size_t to) {
    for (const Exit& exit : exits) graph_.edges.push_back({exit.node, to, exit.label, exit.kind});
  }

  // The steps of one block; `incoming` are the exits that lead into it.
  // Returns the exits that leave it (`incoming` itself when it is empty).
  Exits Sequence(const ConfigNode& steps, const Place& place, Exits incoming) {
    if (!steps.IsSequence()) return incoming;
    for (size_t i = 0; i < steps.items.size(); ++i) {
      if (!steps.items[i].IsMapping()) continue;
      incoming = Step(steps.items[i], i, place, std::move(incoming));
    }
    return incoming;
  }

  Exits Step(const ConfigNode& step, size_t index, const Place& place, Exits incoming) {
    GraphNode node;
    node.id = "step" + std::to_string(index + 1);
    if (const ConfigNode* id = step.Find("id"); id != nullptr && id->IsString()) node.id = id->scalar.get<std::string>();
    if (const ConfigNode* type = step.Find("type"); type != nullptr && type->IsString()) {
      node.type = type->scalar.get<std::string>();
    }
    if (place.nested) {
      node.parent = place.parent;
      node.block = place.block;
      node.path = place.parent + "/" + place.block + "/" + node.id;
    } else {
      node.path = node.id;
    }
    node.detail = StepDetail(step, node.type);
    if (const ConfigNode* condition = step.Find("if")) node.condition = Text(condition);
    node.line = step.where.line;
    const size_t self = graph_.nodes.size();
    graph_.nodes.push_back(node);
    Connect(incoming, self);

    Exits exits = Blocks(step, self);
    if (const ConfigNode* on_error = step.Find("on_error"); on_error != nullptr && on_error->IsSequence()) {
      graph_.nodes[self].blocks.push_back("on_error");
      Exits handled = Sequence(*on_error, Place{true, graph_.nodes[self].path, "on_error"},
                               {{self, "on error", GraphEdge::Kind::kError}});
      exits.insert(exits.end(), handled.begin(), handled.end());
    }
    if (!graph_.nodes[self].condition.empty()) {
      // A skipped step hands control straight on. Drawn from the step itself
      // (not from every way into it), so the graph stays linear in the steps;
      // an edge from the step to the next one already says it.
      bool leaves_itself = false;
      for (const Exit& exit : exits) leaves_itself = leaves_itself || exit.node == self;
      if (!leaves_itself) exits.push_back({self, "skip", GraphEdge::Kind::kNext});
    }
    return exits;
  }

  // Where control leaves the step `self`, through its blocks if it has any.
  Exits Blocks(const ConfigNode& step, size_t self) {
    const std::string type = graph_.nodes[self].type;
    auto block = [&](const std::string& name, const ConfigNode& steps, Exits incoming) {
      graph_.nodes[self].blocks.push_back(name);
      return Sequence(steps, Place{true, graph_.nodes[self].path, name}, std::move(incoming));
    };
    auto branch = [&](std::string label) { return Exits{{self, std::move(label), GraphEdge::Kind::kBranch}}; };
    Exits exits;
    auto add = [&](const Exits& more) { exits.insert(exits.end(), more.begin(), more.end()); };
    if (type == "if") {
      if (const ConfigNode* then = step.Find("then")) add(block("then", *then, branch("then")));
      if (const ConfigNode* otherwise = step.Find("else")) {
        add(block("else", *otherwise, branch("else")));
      } else {
        add(branch("else"));
      }
    } else if (type == "switch") {
      if (const ConfigNode* cases = step.Find("cases"); cases != nullptr && cases->IsMapping()) {
        for (const auto& entry : cases->entries) add(block("cases." + entry.name, entry.value, branch(entry.name)));
      }
      // Without a default an unmatched value is an error: no way on.
      if (const ConfigNode* fallback = step.Find("default")) add(block("default", *fallback, branch("default")));
    } else if (type == "parallel") {
      if (const ConfigNode* branches = step.Find("branches"); branches != nullptr && branches->IsMapping()) {
        for (const auto& entry : branches->entries) {
          add(block("branches." + entry.name, entry.value, branch(entry.name)));
        }
      }
    } else if (type == "loop" || type == "map") {
      const ConfigNode* body = step.Find("steps");
      std::string entry_label;
      std::string back_label = "repeat";
      if (type == "map") {
        const ConfigNode* as = step.Find("as");
        entry_label = "each " + (as != nullptr ? Text(as) : std::string("item"));
        const ConfigNode* collect = step.Find("collect");
        back_label = collect != nullptr ? "collect " + Text(collect) : "next item";
      }
      Exits body_exits = body != nullptr ? block("steps", *body, branch(entry_label)) : branch(entry_label);
      for (Exit& exit : body_exits) {
        graph_.edges.push_back({exit.node, self, exit.label.empty() ? back_label : exit.label,
                                GraphEdge::Kind::kRepeat});
      }
      exits.push_back({self, "done", GraphEdge::Kind::kNext});
    } else if (type == "fail") {
      // A run ends here: nothing follows.
    } else {
      if (type == "call") {
        if (const ConfigNode* flow = step.Find("flow"); flow != nullptr && flow->IsString()) {
          calls_.emplace_back(self, flow->scalar.get<std::string>());
        }
      }
      exits.push_back({self, "", GraphEdge::Kind::kNext});
    }
    return exits;
  }

  FlowGraph graph_;
  std::vector<std::pair<size_t, std::string>> calls_;
};

}  // namespace

FlowGraph BuildFlowGraph(const ConfigNode& root) { return GraphBuilder().Build(root); }

}  // namespace flowrun
