// Rendering a parsed template: output, if, for (with `loop`) and set over
// a stack of scopes in front of the caller's variables. One Renderer per
// render; the tree is only read.
#include "templates/template_render.h"

#include <string>
#include <vector>

namespace flowrun::template_internal {
namespace {

// Names bound by for loops and set, in front of the caller's variables.
class Scope : public expr::Variables {
 public:
  explicit Scope(const expr::Variables& outer) : outer_(outer) {}

  const nlohmann::json* Find(std::string_view root) const override {
    for (auto it = bindings_.rbegin(); it != bindings_.rend(); ++it) {
      if (it->name == root) return it->ref != nullptr ? it->ref : &it->owned;
    }
    return outer_.Find(root);
  }

  // A frame: what is bound after Push is gone after the matching Pop.
  void Push() { frames_.push_back(bindings_.size()); }
  void Pop() {
    bindings_.resize(frames_.back());
    frames_.pop_back();
  }

  // Binds in the innermost frame (replacing a binding of the same name there).
  void Bind(std::string_view name, const nlohmann::json* ref, nlohmann::json owned = nullptr) {
    const size_t start = frames_.empty() ? 0 : frames_.back();
    for (size_t i = start; i < bindings_.size(); ++i) {
      if (bindings_[i].name == name) {
        bindings_[i].ref = ref;
        bindings_[i].owned = std::move(owned);
        return;
      }
    }
    bindings_.push_back({std::string(name), ref, std::move(owned)});
  }

 private:
  struct Binding {
    std::string name;
    const nlohmann::json* ref;  // into a value the renderer holds while the binding lives
    nlohmann::json owned;       // when ref is null
  };
  const expr::Variables& outer_;
  std::vector<Binding> bindings_;
  std::vector<size_t> frames_;
};

Status EvalError(const expr::EvalResult& result) {
  switch (result.error_kind) {
    case expr::EvalResult::ErrorKind::kNotSet: return Status::NotFound(*result.error);
    case expr::EvalResult::ErrorKind::kLimit: return Status::ResourceExhausted(*result.error);
    case expr::EvalResult::ErrorKind::kInvalid: break;
  }
  return Status::InvalidArgument(*result.error);
}

class Renderer {
 public:
  Renderer(const expr::Variables& variables, const expr::EvalLimits& limits, std::string* out)
      : scope_(variables), limits_(limits), out_(*out) {}

  Status RenderBody(const std::vector<Node>& body) {
    for (const Node& node : body) {
      Status status = RenderNode(node);
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }

 private:
  Status RenderNode(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kText:
        return Append(node.text);
      case Node::Kind::kOutput: {
        expr::EvalResult result = node.value->expression.Evaluate(scope_, limits_);
        if (!result.ok()) return EvalError(result);
        if (result.value.is_string()) return Append(result.value.get_ref<const std::string&>());
        return Append(expr::ToText(result.value));
      }
      case Node::Kind::kSet: {
        expr::EvalResult result = node.value->expression.Evaluate(scope_, limits_);
        if (!result.ok()) return EvalError(result);
        scope_.Bind(node.text, nullptr, std::move(result.value));
        return Status::Ok();
      }
      case Node::Kind::kIf:
        for (const Branch& branch : node.branches) {
          if (branch.condition) {
            expr::EvalResult result = branch.condition->expression.Evaluate(scope_, limits_);
            if (!result.ok()) return EvalError(result);
            if (!expr::Expression::Truthy(result.value)) continue;
          }
          return RenderBody(branch.body);
        }
        return Status::Ok();
      case Node::Kind::kFor:
        return RenderFor(node);
    }
    return Status::Internal("unknown template node");
  }

  Status RenderFor(const Node& node) {
    expr::EvalResult result = node.value->expression.Evaluate(scope_, limits_);
    if (!result.ok()) return EvalError(result);
    const nlohmann::json& sequence = result.value;
    // What is looped over: list items in place, object keys, a string's code points.
    std::vector<nlohmann::json> made;
    if (sequence.is_object()) {
      for (const auto& [key, unused] : sequence.items()) made.emplace_back(key);
    } else if (sequence.is_string()) {
      const std::string& text = sequence.get_ref<const std::string&>();
      for (size_t i = 0; i < text.size();) {
        size_t next = i + 1;
        while (next < text.size() && (static_cast<unsigned char>(text[next]) & 0xC0) == 0x80) ++next;
        made.emplace_back(text.substr(i, next - i));
        i = next;
      }
    } else if (!sequence.is_array() && !sequence.is_null()) {
      return Status::InvalidArgument(std::string("'for' needs a list, an object or a string, got ") +
                                     (sequence.is_boolean() ? "a boolean" : "a number"));
    }
    const size_t count = sequence.is_array() ? sequence.size() : made.size();
    if (count == 0) {
      scope_.Push();
      Status status = RenderBody(node.else_body);
      scope_.Pop();
      return status;
    }
    for (size_t i = 0; i < count; ++i) {
      if (++iterations_ > limits_.max_iterations) {
        return Status::ResourceExhausted("template loops ran more than " + std::to_string(limits_.max_iterations) +
                                         " iterations (max_iterations)");
      }
      nlohmann::json loop = {{"index", i + 1},       {"index0", i},          {"first", i == 0},
                             {"last", i + 1 == count}, {"length", count},     {"revindex", count - i},
                             {"revindex0", count - i - 1}};
      scope_.Push();
      scope_.Bind(node.text, sequence.is_array() ? &sequence[i] : &made[i]);
      scope_.Bind("loop", nullptr, std::move(loop));
      Status status = RenderBody(node.body);
      scope_.Pop();
      if (!status.ok()) return status;
    }
    return Status::Ok();
  }

  Status Append(const std::string& text) {
    out_ += text;
    if (out_.size() > limits_.max_output_bytes) {
      return Status::ResourceExhausted("template output is larger than " + std::to_string(limits_.max_output_bytes) +
                                       " bytes (max_output_bytes)");
    }
    return Status::Ok();
  }

  Scope scope_;
  const expr::EvalLimits& limits_;
  std::string& out_;
  size_t iterations_ = 0;
};

}  // namespace

Status RenderTemplate(const std::vector<Node>& body, const expr::Variables& variables,
                      const expr::EvalLimits& limits, std::string* out) {
  out->clear();
  return Renderer(variables, limits, out).RenderBody(body);
}

}  // namespace flowrun::template_internal
