// yaml-cpp events -> YamlGraph, with the flow-file limits checked on every
// event. Sizes with aliases expanded are known for each complete node, so an
// alias is refused at its own position before anything is copied.
#include "config/yaml_graph.h"

#include <algorithm>
#include <istream>
#include <streambuf>
#include <unordered_map>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "config/flow_file_limits.h"

namespace flowrun {
namespace {

using Kind = YamlGraphNode::Kind;

// Thrown by the builder, after it reported the problem, to stop the parser.
struct ParseStopped {};

// yaml-cpp marks are 0-based; ours are 1-based.
SourceLocation ToLocation(const YAML::Mark& mark, size_t length = 1) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1, static_cast<int>(std::clamp<size_t>(length, 1, 1 << 20))};
}

// A read-only stream over the caller's text (no copy).
class ViewBuffer : public std::streambuf {
 public:
  explicit ViewBuffer(std::string_view text) {
    char* begin = const_cast<char*>(text.data());
    setg(begin, begin, begin + text.size());
  }
};

class GraphBuilder : public YAML::EventHandler {
 public:
  GraphBuilder(YamlGraph& graph, Diagnostics& diagnostics) : graph_(graph), diagnostics_(diagnostics) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Complete(Add(Kind::kNull, ToLocation(mark), anchor));
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    // yaml-cpp tags quoted (and block) scalars "!" and plain ones "?".
    const bool quoted = tag == "!";
    // The caret underlines a one-line scalar as written (with its quotes).
    const size_t length = value.find('\n') == std::string::npos ? value.size() + (quoted ? 2 : 0) : 1;
    text_bytes_ += value.size();
    if (text_bytes_ > kMaxYamlTextBytes) Stop(ToLocation(mark, length), TextLimitMessage());
    const uint32_t index = Add(Kind::kScalar, ToLocation(mark, length), anchor);
    graph_.nodes[index].quoted = quoted;
    graph_.nodes[index].text = value;
    sizes_[index].bytes = value.size();
    Complete(index);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Kind::kSequence, mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Kind::kMapping, mark, anchor);
  }
  void OnMapEnd() override { Close(); }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto found = anchors_.find(anchor);
    if (found == anchors_.end()) Stop(ToLocation(mark), "YAML alias refers to an unknown anchor");
    const Anchor& target = found->second;
    const SourceLocation where = ToLocation(mark, target.name.size() + 1);
    const std::string alias = "'*" + target.name + "'";
    if (!sizes_[target.node].complete) {
      Stop(where, "recursive YAML alias " + alias + ": it is inside the node it refers to");
    }
    const Sizes expanded = sizes_[target.node];
    if (open_.size() + static_cast<size_t>(expanded.height) > static_cast<size_t>(kMaxYamlDepth)) {
      Stop(where, DepthLimitMessage());
    }
    expanded_nodes_ += expanded.nodes;
    if (expanded_nodes_ > kMaxYamlNodes) {
      Stop(where, "YAML aliases expand to more than " + std::to_string(kMaxYamlNodes) + " nodes" +
                      kFlowFileLimitSuffix);
    }
    text_bytes_ += expanded.bytes;
    if (text_bytes_ > kMaxYamlTextBytes) Stop(where, TextLimitMessage());
    const uint32_t index = Attach(Kind::kAlias, where);
    graph_.nodes[index].target = target.node;
    sizes_[index] = expanded;
  }

 private:
  // A node's size once its aliases are expanded.
  struct Sizes {
    size_t nodes = 1;
    size_t bytes = 0;
    int height = 0;  // collections nested in it, itself included
    bool complete = false;
  };
  struct Anchor {
    uint32_t node = 0;
    std::string name;
  };

  static std::string DepthLimitMessage() {
    return "YAML nesting is deeper than " + std::to_string(kMaxYamlDepth) + " levels" + kFlowFileLimitSuffix;
  }
  static std::string TextLimitMessage() {
    return "YAML aliases expand to more than " + std::to_string(kMaxYamlTextBytes) + " bytes of text" +
           kFlowFileLimitSuffix;
  }

  [[noreturn]] void Stop(const SourceLocation& where, std::string message) {
    diagnostics_.Error(where, std::move(message));
    throw ParseStopped{};
  }

  // A new node, counted against the node limit and placed in its parent.
  uint32_t Add(Kind kind, const SourceLocation& where, YAML::anchor_t anchor) {
    ++expanded_nodes_;
    if (expanded_nodes_ > kMaxYamlNodes) {
      Stop(where, "YAML document has more than " + std::to_string(kMaxYamlNodes) + " nodes" + kFlowFileLimitSuffix);
    }
    const uint32_t index = Attach(kind, where);
    if (anchor != YAML::NullAnchor) anchors_[anchor] = {index, std::move(anchor_name_)};
    anchor_name_.clear();
    return index;
  }

  uint32_t Attach(Kind kind, const SourceLocation& where) {
    const auto index = static_cast<uint32_t>(graph_.nodes.size());
    graph_.nodes.emplace_back();
    graph_.nodes.back().kind = kind;
    graph_.nodes.back().where = where;
    sizes_.emplace_back();
    if (!open_.empty()) {
      graph_.nodes[open_.back()].children.push_back(index);
    } else if (!graph_.root) {
      graph_.root = index;
    }
    return index;
  }

  void Open(Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    // Checked before yaml-cpp recurses further: its own recursion (and ours
    // later) stays this deep, whatever the file holds.
    if (open_.size() >= static_cast<size_t>(kMaxYamlDepth)) Stop(ToLocation(mark), DepthLimitMessage());
    open_.push_back(Add(kind, ToLocation(mark), anchor));
  }

  void Close() {
    if (open_.empty()) return;
    const uint32_t index = open_.back();
    open_.pop_back();
    Sizes& sizes = sizes_[index];
    for (uint32_t child : graph_.nodes[index].children) {
      sizes.nodes += sizes_[child].nodes;
      sizes.bytes += sizes_[child].bytes;
      sizes.height = std::max(sizes.height, sizes_[child].height);
    }
    sizes.height += 1;
    Complete(index);
  }

  void Complete(uint32_t index) { sizes_[index].complete = true; }

  YamlGraph& graph_;
  Diagnostics& diagnostics_;
  std::vector<Sizes> sizes_;       // parallel to graph_.nodes
  std::vector<uint32_t> open_;     // collections being read, outermost first
  std::unordered_map<YAML::anchor_t, Anchor> anchors_;
  std::string anchor_name_;        // from OnAnchor, for the node that follows
  size_t expanded_nodes_ = 0;      // nodes so far, aliases expanded
  size_t text_bytes_ = 0;          // scalar bytes so far, aliases expanded
};

}  // namespace

std::optional<YamlGraph> ReadYamlGraph(std::string_view source, Diagnostics& diagnostics) {
  YamlGraph graph;
  try {
    ViewBuffer buffer(source);
    std::istream in(&buffer);
    YAML::Parser parser(in);
    GraphBuilder builder(graph, diagnostics);
    parser.HandleNextDocument(builder);
  } catch (const ParseStopped&) {
    return std::nullopt;
  } catch (const YAML::Exception& error) {
    // error.msg is the bare reason; error.what() repeats the position.
    // yaml-cpp's own depth guard (DeepRecursion) lands here too.
    diagnostics.Error(ToLocation(error.mark), "invalid YAML: " + error.msg);
    return std::nullopt;
  } catch (const std::exception& error) {
    diagnostics.Error({}, std::string("cannot parse the YAML: ") + error.what());
    return std::nullopt;
  }
  return graph;
}

}  // namespace flowrun
