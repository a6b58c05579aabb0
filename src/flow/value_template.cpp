// Compiling and evaluating typed values.
#include "flow/value_template.h"

#include "flow/evaluate.h"

namespace flowrun {

std::optional<ValueTemplate> ValueTemplate::Compile(const ConfigNode& node, const CompileString& compile) {
  ValueTemplate value;
  bool ok = true;
  switch (node.kind) {
    case ConfigNode::Kind::kNull:
    case ConfigNode::Kind::kScalar:
      if (!node.IsString()) {
        value.literal_ = node.ToJson();
        break;
      }
      value.kind_ = Kind::kText;
      value.text_ = compile(node);
      ok = value.text_.has_value();
      break;
    case ConfigNode::Kind::kSequence:
      value.kind_ = Kind::kList;
      for (const auto& item : node.items) {
        auto compiled = Compile(item, compile);
        if (compiled) value.items_.push_back(std::move(*compiled));
        ok = ok && compiled.has_value();
      }
      break;
    case ConfigNode::Kind::kMapping:
      value.kind_ = Kind::kMapping;
      for (const auto& [name, member] : node.entries) {
        auto compiled = Compile(member, compile);
        if (compiled) value.members_.emplace_back(name, std::move(*compiled));
        ok = ok && compiled.has_value();
      }
      break;
  }
  if (!ok) return std::nullopt;
  return value;
}

Status ValueTemplate::Evaluate(const nlohmann::json& state, nlohmann::json* out) const {
  switch (kind_) {
    case Kind::kLiteral:
      *out = literal_;
      return Status::Ok();
    case Kind::kText: {
      // Exactly one `{{ expr }}`: the value keeps the expression's type.
      if (const expr::Expression* single = text_->SingleExpression()) return EvaluateIn(*single, state, out);
      std::string text;
      Status rendered = text_->Render(state, &text);
      if (!rendered.ok()) return rendered;
      *out = std::move(text);
      return Status::Ok();
    }
    case Kind::kList: {
      *out = nlohmann::json::array();
      for (const auto& item : items_) {
        nlohmann::json value;
        if (Status status = item.Evaluate(state, &value); !status.ok()) return status;
        out->push_back(std::move(value));
      }
      return Status::Ok();
    }
    case Kind::kMapping: {
      *out = nlohmann::json::object();
      for (const auto& [name, member] : members_) {
        nlohmann::json value;
        if (Status status = member.Evaluate(state, &value); !status.ok()) return status;
        (*out)[name] = std::move(value);
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

}  // namespace flowrun
