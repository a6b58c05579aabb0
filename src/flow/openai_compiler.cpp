// The flow file's `openai:` block: how a flow shows as a model at
// /v1/chat/completions (its id, what the request may pass through to its
// model steps, how the request's messages map to its inputs).
#include "flow/openai_compiler.h"

#include <algorithm>

#include "core/edit_distance.h"

namespace flowrun {
namespace {

const std::vector<std::string> kOpenAiKeys = {"model", "pass_through", "input"};

bool IsModelIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-' || c == ':' || c == '/';
}

bool Contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// The input types each source's value has.
bool SourceFitsType(const std::string& source, const std::string& type) {
  if (source == "last_user_message" || source == "system") return type == "string";
  return type == "messages" || type == "array";
}

void CompileModel(const ConfigNode& node, const CompileContext& context, OpenAiSpec& spec) {
  if (!node.IsString()) {
    context.ErrorAt(node.where, "'openai.model' must be a string, got " + node.TypeName());
    return;
  }
  spec.model = node.scalar.get<std::string>();
  const bool valid = !spec.model.empty() && spec.model.size() <= 128 &&
                     std::all_of(spec.model.begin(), spec.model.end(), IsModelIdChar);
  if (!valid) {
    context.ErrorAt(node.where, "model id '" + spec.model +
                                    "' may only hold letters, digits, '.', '_', '-', ':' and '/' (at most 128)");
  }
}

void CompilePassThrough(const ConfigNode& node, const CompileContext& context, OpenAiSpec& spec) {
  if (!node.IsSequence()) {
    context.ErrorAt(node.where, "'openai.pass_through' must be a list of request fields, got " + node.TypeName());
    return;
  }
  for (const ConfigNode& item : node.items) {
    const std::string name = item.IsString() ? item.scalar.get<std::string>() : "";
    if (!Contains(kOpenAiPassThroughFields, name)) {
      context.ErrorAt(item.where, "'openai.pass_through' cannot hold " +
                                      (item.IsString() ? "'" + name + "'" : "a " + item.TypeName()) +
                                      DidYouMean(name, kOpenAiPassThroughFields) + " (it takes " +
                                      "temperature, top_p, max_tokens, max_completion_tokens)");
    } else if (!Contains(spec.pass_through, name)) {
      spec.pass_through.push_back(name);
    }
  }
}

void CompileInputMap(const ConfigNode& node, const CompileContext& context, const Flow& flow, OpenAiSpec& spec) {
  if (!node.IsMapping()) {
    context.ErrorAt(node.where, "'openai.input' must map input names to message sources, got " + node.TypeName());
    return;
  }
  for (const auto& [name, value] : node.entries) {
    const InputField* field = flow.input.Find(name);
    if (field == nullptr) {
      std::vector<std::string> names;
      for (const auto& declared : flow.input.fields()) names.push_back(declared.name);
      context.ErrorAt(value.key_where, "'openai.input' maps '" + name + "', which is not an input of the flow" +
                                           DidYouMean(name, names));
      continue;
    }
    const std::string source = value.IsString() ? value.scalar.get<std::string>() : "";
    if (!Contains(kOpenAiInputSources, source)) {
      context.ErrorAt(value.where, "unknown message source " + (value.IsString() ? "'" + source + "'" : value.TypeName()) +
                                       DidYouMean(source, kOpenAiInputSources) +
                                       " (use last_user_message, earlier_messages, messages or system)");
      continue;
    }
    if (!SourceFitsType(source, field->type)) {
      context.ErrorAt(value.where, "'" + source + "' gives " + (SourceFitsType(source, "string") ? "a string" : "messages") +
                                       ", but input '" + name + "' is of type " + field->type);
      continue;
    }
    spec.input.emplace_back(name, source);
  }
}

}  // namespace

const std::vector<std::string> kOpenAiPassThroughFields = {"temperature", "top_p", "max_tokens", "max_completion_tokens"};
const std::vector<std::string> kOpenAiInputSources = {"last_user_message", "earlier_messages", "messages", "system"};

void CompileOpenAi(const ConfigNode& node, const CompileContext& context, Flow& flow) {
  OpenAiSpec& spec = flow.openai;
  if (node.IsScalar() && node.scalar.is_boolean()) {
    spec.exposed = node.scalar.get<bool>();
    return;
  }
  if (!node.IsMapping()) {
    context.ErrorAt(node.where, "'openai' must be false or a mapping like {model: my-assistant}, got " +
                                    node.TypeName());
    return;
  }
  context.CheckKeys(node, kOpenAiKeys, "'openai'");
  if (const ConfigNode* model = node.Find("model")) CompileModel(*model, context, spec);
  if (const ConfigNode* pass = node.Find("pass_through")) CompilePassThrough(*pass, context, spec);
  if (const ConfigNode* input = node.Find("input")) CompileInputMap(*input, context, flow, spec);
}

}  // namespace flowrun
