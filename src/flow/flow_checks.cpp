// The whole-flow checks (flow_checks.h): a walk over each block that keeps
// the keys every path has set so far, and what each block may write and
// stream, for the parallel steps around it.
#include "flow/flow_checks.h"

#include <algorithm>
#include <map>
#include <set>

#include "templates/template.h"

namespace flowrun {
namespace {

using Keys = std::set<std::string>;

// What is known at a point of a block.
struct Reach {
  Keys defined;         // keys set on every path to here
  bool dead = false;    // no path gets here (after a step that always fails)
  std::string dead_by;  // that step's id
};

// Where two paths meet: what both set (a path that cannot get here adds nothing).
Reach Merge(const Reach& a, const Reach& b) {
  if (a.dead) return b;
  if (b.dead) return a;
  Reach out;
  std::set_intersection(a.defined.begin(), a.defined.end(), b.defined.begin(), b.defined.end(),
                        std::inserter(out.defined, out.defined.end()));
  return out;
}

// What a block may do to the scope it runs in.
struct Effects {
  std::map<std::string, SourceLocation> writes;  // keys it may write, and where first
  std::optional<SourceLocation> streams;         // the first step that may stream to the client
};

const FlowBlock* FindBlock(const FlowStep& step, const std::string& name) {
  for (const auto& block : step.blocks) {
    if (block.name == name) return &block;
  }
  return nullptr;
}

class FlowChecker {
 public:
  FlowChecker(const CompileContext& context, Flow& flow) : context_(context), flow_(flow) {}

  Reach Block(const ConfigNode& list, const std::vector<FlowStep>& steps, Reach in, Effects& effects,
              bool conditional) {
    Reach at = std::move(in);
    if (!list.IsSequence() || list.items.size() != steps.size()) return at;  // not compiled as written
    for (size_t i = 0; i < steps.size(); ++i) {
      if (at.dead) {
        context_.WarnAt(steps[i].where, "step '" + steps[i].id + "' can never run: step '" + at.dead_by +
                                            "' before it always fails");
        return at;
      }
      at = Step(list.items[i], steps[i], at, effects, conditional);
    }
    return at;
  }

 private:
  Reach Step(const ConfigNode& item, const FlowStep& step, const Reach& in, Effects& effects, bool conditional) {
    const StepType* type = context_.registry.Find(step.type);
    if (type == nullptr) return in;
    Keys warned;  // each key once per step
    const ConfigNode* condition = item.Find("if");
    if (condition != nullptr) ExpressionReads(*condition, in.defined, warned);
    conditional = conditional || condition != nullptr;
    Reach out = in;
    if (step.IsControl()) {
      out = Control(item, step, *type, in, effects, conditional, warned);
    } else {
      StepReads(item, *type, in.defined, {}, warned);
      auto write = [&](const std::string& key, SourceLocation where) {
        out.defined.insert(key);
        effects.writes.emplace(key, where);
      };
      for (const auto& param : type->params) {
        if (!IsOutputParam(param.name)) continue;
        const ConfigNode* output = item.Find(param.name);
        if (output != nullptr && output->IsString()) {
          write(output->scalar.get<std::string>(), output->where);
        } else if (output == nullptr && param.default_value.is_string()) {
          write(param.default_value.get<std::string>(), step.where);
        }
      }
      for (const auto& key : type->writes) write(key, step.where);
      if (step.step != nullptr && !step.step->StreamedOutputKey().empty() && !effects.streams) {
        effects.streams = step.where;
      }
    }
    if (step.policy.on_error == StepPolicy::OnError::kContinue) {
      out = Merge(out, in);  // it may have failed part way: nothing it writes is sure
    } else if (step.policy.on_error == StepPolicy::OnError::kSteps) {
      Reach fallback_in = in;
      fallback_in.defined.insert("error");
      const FlowBlock* fallback = FindBlock(step, "on_error");
      if (fallback != nullptr) {
        Reach fallback_out = Block(*item.Find("on_error"), fallback->steps, fallback_in, effects, true);
        if (!in.defined.count("error")) fallback_out.defined.erase("error");
        out = Merge(out, fallback_out);
      }
    }
    if (condition != nullptr) out = Merge(out, in);  // skipped when it does not hold
    if (out.dead && out.dead_by.empty()) out.dead_by = step.id;
    return out;
  }

  Reach Control(const ConfigNode& item, const FlowStep& step, const StepType& type, const Reach& in,
                Effects& effects, bool conditional, Keys& warned) {
    const ControlSpec& spec = *step.control;
    auto block = [&](const std::string& name, const Reach& from, Effects& into, bool branch) {
      const FlowBlock* compiled = FindBlock(step, name);
      const ConfigNode* node = BlockNode(item, name);
      if (compiled == nullptr || node == nullptr) return from;
      return Block(*node, compiled->steps, from, into, conditional || branch);
    };
    Reach out = in;
    switch (spec.kind) {
      case ControlKind::kSet: {
        // In order: a value sees the keys set before it.
        const ConfigNode* values = item.Find("values");
        for (const auto& [key, value] : values->entries) {
          ValueReads(value, out.defined, warned);
          out.defined.insert(key);
          effects.writes.emplace(key, value.key_where);
        }
        return out;
      }
      case ControlKind::kIf: {
        StepReads(item, type, in.defined, {}, warned);
        Reach then = block("then", in, effects, true);
        Reach otherwise = spec.has_else ? block("else", in, effects, true) : in;
        return Merge(then, otherwise);
      }
      case ControlKind::kSwitch: {
        StepReads(item, type, in.defined, {}, warned);
        std::optional<Reach> joined;
        auto join = [&](const Reach& reach) { joined = joined ? Merge(*joined, reach) : reach; };
        for (const auto& key : spec.case_keys) join(block("cases." + key, in, effects, true));
        // Without a default, another value is an error: no path goes on from it.
        if (spec.default_block >= 0) join(block("default", in, effects, true));
        return joined ? *joined : in;
      }
      case ControlKind::kLoop: {
        StepReads(item, type, in.defined, {"until"}, warned);
        Reach body_in = in;
        body_in.defined.insert("loop");
        Reach body = block("steps", body_in, effects, false);  // runs at least once
        if (const ConfigNode* until = item.Find("until"); until != nullptr && !body.dead) {
          ExpressionReads(*until, body.defined, warned);
        }
        if (!in.defined.count("loop")) body.defined.erase("loop");
        return body;
      }
      case ControlKind::kParallel:
        return Parallel(item, step, in, effects, conditional);
      case ControlKind::kMap: {
        StepReads(item, type, in.defined, {"collect"}, warned);
        Reach body_in = in;
        body_in.defined.insert(spec.as);
        body_in.defined.insert("loop");
        Effects inside;  // an item's writes stay in its scope
        Reach body = block("steps", body_in, inside, false);
        if (const ConfigNode* collect = item.Find("collect"); collect != nullptr && !body.dead) {
          ExpressionReads(*collect, body.defined, warned);
        }
        if (inside.streams) {
          if (spec.concurrency > 1) {
            context_.WarnAt(*inside.streams, "the items of map '" + step.id + "' run " +
                                                 std::to_string(spec.concurrency) +
                                                 " at once, so their streamed text interleaves; "
                                                 "use concurrency: 1, or stream: false on the step");
          }
          if (!effects.streams) effects.streams = inside.streams;
        }
        if (spec.collect && !spec.output.empty()) {
          out.defined.insert(spec.output);
          effects.writes.emplace(spec.output, item.Find("output")->where);
        }
        return out;
      }
      case ControlKind::kCall: {
        StepReads(item, type, in.defined, {}, warned);
        const ConfigNode* name = item.Find("flow");
        flow_.calls.push_back({step.id, spec.flow, name->where, context_.diagnostics.LineText(name->where.line),
                               conditional});
        if (!spec.output.empty()) {
          out.defined.insert(spec.output);
          effects.writes.emplace(spec.output, item.Find("output")->where);
        }
        return out;
      }
      case ControlKind::kFail:
        StepReads(item, type, in.defined, {}, warned);
        out.dead = true;
        return out;
      case ControlKind::kNone:
        break;
    }
    return out;
  }

  // Each branch reads the state as the block found it; their writes are
  // merged after, so two branches may not write one key, nor (without
  // `stream: interleave`) both stream to the client.
  Reach Parallel(const ConfigNode& item, const FlowStep& step, const Reach& in, Effects& effects, bool conditional) {
    const ControlSpec& spec = *step.control;
    const ConfigNode* branches = item.Find("branches");
    std::vector<std::pair<std::string, Effects>> done;
    Reach out = in;
    for (const auto& [name, node] : branches->entries) {
      const FlowBlock* compiled = FindBlock(step, "branches." + name);
      if (compiled == nullptr) continue;
      Effects branch;
      Reach end = Block(node, compiled->steps, in, branch, conditional);
      for (const auto& [key, where] : branch.writes) {
        for (const auto& [other, earlier] : done) {
          if (!earlier.writes.count(key)) continue;
          context_.ErrorAt(where, "branches '" + other + "' and '" + name + "' of parallel '" + step.id +
                                      "' both write '" + key + "'; branches run at once, so give each its own keys");
          break;
        }
        effects.writes.emplace(key, where);
      }
      if (branch.streams) {
        for (const auto& [other, earlier] : done) {
          if (spec.interleave || !earlier.streams) continue;
          context_.ErrorAt(*branch.streams, "branches '" + other + "' and '" + name + "' of parallel '" + step.id +
                                                "' both stream to the client; give all but one 'stream: false', "
                                                "or the parallel step 'stream: interleave'");
          break;
        }
        if (!effects.streams) effects.streams = branch.streams;
      }
      out.defined.insert(end.defined.begin(), end.defined.end());
      if (end.dead) {
        out.dead = true;
        out.dead_by = end.dead_by;
      }
      done.emplace_back(name, std::move(branch));
    }
    return out;
  }

  static const ConfigNode* BlockNode(const ConfigNode& item, const std::string& name) {
    for (const char* prefix : {"cases.", "branches."}) {
      const std::string start = prefix;
      if (name.rfind(start, 0) != 0) continue;
      const ConfigNode* map = item.Find(start.substr(0, start.size() - 1));
      return map != nullptr ? map->Find(name.substr(start.size())) : nullptr;
    }
    return item.Find(name);
  }

  // The reads of every parameter that holds templates or expressions
  // (but not those in `skip`, read elsewhere), and of state keys named by
  // the type's key parameters.
  void StepReads(const ConfigNode& item, const StepType& type, const Keys& defined, const Keys& skip,
                 Keys& warned) {
    for (const auto& param : type.params) {
      const ConfigNode* node = item.Find(param.name);
      if (node == nullptr || skip.count(param.name)) continue;
      switch (param.type) {
        case ParamType::kTemplate:
          TemplateReads(*node, defined, warned);
          break;
        case ParamType::kExpression:
          ExpressionReads(*node, defined, warned);
          break;
        case ParamType::kValues:
          ValueReads(*node, defined, warned);
          break;
        case ParamType::kMessages:
          for (const auto& message : node->items) {
            if (const ConfigNode* content = message.Find("content")) TemplateReads(*content, defined, warned);
          }
          break;
        case ParamType::kTemplateList:
        case ParamType::kMockTurns:
          for (const auto& entry : node->items) ValueReads(entry, defined, warned);
          break;
        case ParamType::kMockTurn:
          ValueReads(*node, defined, warned);
          break;
        default:
          break;
      }
    }
    for (const auto& name : type.key_params_read) {
      const ConfigNode* node = item.Find(name);
      std::string key;
      if (node != nullptr && node->IsString()) {
        key = node->scalar.get<std::string>();
      } else if (node == nullptr) {
        for (const auto& param : type.params) {
          if (param.name == name && param.default_value.is_string()) key = param.default_value.get<std::string>();
        }
      }
      if (key.empty() || defined.count(key) || !warned.insert(key).second) continue;
      context_.WarnAt(node != nullptr ? node->where : item.where,
                      "'" + key + "' may not be set here: not every path to this step sets it");
    }
  }

  // A typed value: every string in it is a template.
  void ValueReads(const ConfigNode& node, const Keys& defined, Keys& warned) {
    if (node.IsString()) TemplateReads(node, defined, warned);
    for (const auto& item : node.items) ValueReads(item, defined, warned);
    for (const auto& [key, value] : node.entries) ValueReads(value, defined, warned);
  }

  void TemplateReads(const ConfigNode& node, const Keys& defined, Keys& warned) {
    if (!node.IsString()) return;
    const std::string text = node.scalar.get<std::string>();
    Template::CompileError error;
    if (auto compiled = Template::Compile(text, &error)) Warn(node, text, compiled->Reads(), defined, warned);
  }

  void ExpressionReads(const ConfigNode& node, const Keys& defined, Keys& warned) {
    if (!node.IsString()) return;
    const std::string text = node.scalar.get<std::string>();
    expr::ExprError error;
    if (auto compiled = expr::Expression::Parse(text, &error)) Warn(node, text, compiled->Reads(), defined, warned);
  }

  void Warn(const ConfigNode& node, const std::string& text, const std::vector<expr::VariableRead>& reads,
            const Keys& defined, Keys& warned) {
    for (const auto& read : reads) {
      if (read.guarded || defined.count(read.root) || !warned.insert(read.root).second) continue;
      context_.WarnAt(OffsetLocation(node, text, read.where.offset, static_cast<int>(read.root.size())),
                      "'" + read.root + "' may not be set here: not every path to this step sets it (write '" +
                          read.root + " | default(...)' if that is expected)");
    }
  }

  const CompileContext& context_;
  Flow& flow_;
};

}  // namespace

void CheckFlowSteps(const ConfigNode& steps, const CompileContext& context, Flow& flow) {
  Reach start;
  start.defined = {"input", "history"};
  Effects effects;
  FlowChecker(context, flow).Block(steps, flow.steps, start, effects, false);
}

}  // namespace flowrun
