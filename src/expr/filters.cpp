// The filters/functions and tests: the table, and one small function each.
#include "expr/filters.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace flowrun::expr {
namespace {

constexpr Kinds kSequenceKinds = kStringKind | kListKind;
constexpr Kinds kContainerKinds = kStringKind | kListKind | kObjectKind;

bool Has(const Node& call, size_t index) { return call.children.size() > index; }

// The index-th argument, defined and of a kind the filter takes.
Value Arg(Evaluator& evaluator, const Node& call, size_t index) {
  Value value = evaluator.EvalDefined(*call.children[index]);
  const Kinds kind = KindOf(value.get());
  if (!(kind & call.filter->kinds[index])) evaluator.Fail(ArgTypeError(*call.filter, index, kind));
  return value;
}

const std::string& Str(const Value& value) { return value.get().get_ref<const std::string&>(); }

std::string Preview(const std::string& text) {
  return "'" + (text.size() > 40 ? text.substr(0, 40) + "..." : text) + "'";
}

Value Length(Evaluator& evaluator, const Node& call) {
  if (std::optional<size_t> count = evaluator.EvalCount(*call.children[0])) return Value::Own(*count);
  Value value = Arg(evaluator, call, 0);
  if (value.get().is_string()) return Value::Own(CodePointCount(Str(value)));
  return Value::Own(value.get().size());
}

int AsciiLower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }
int AsciiUpper(int c) { return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c; }

// lower/upper: ASCII letters only; other bytes (UTF-8) stay as they are.
template <int (*Convert)(int)>
Value MapChars(Evaluator& evaluator, const Node& call) {
  std::string text = Str(Arg(evaluator, call, 0));
  for (char& c : text) {
    c = static_cast<char>(Convert(static_cast<unsigned char>(c)));
  }
  return Value::Own(std::move(text));
}

Value Trim(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  const std::string chars = Has(call, 1) ? Str(Arg(evaluator, call, 1)) : std::string(" \t\n\r\f\v");
  const std::string& text = Str(value);
  const size_t first = text.find_first_not_of(chars);
  if (first == std::string::npos) return Value::Own("");
  return Value::Own(text.substr(first, text.find_last_not_of(chars) - first + 1));
}

Value Contains(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  Value item = Arg(evaluator, call, 1);
  const nlohmann::json& whole = value.get();
  if (whole.is_string()) {
    if (!item.get().is_string()) {
      evaluator.Fail(std::string(call.filter->name) + "(): 'item' must be a string when the value is a string, got " +
                     KindName(KindOf(item.get())));
    }
    return Value::Own(Str(value).find(Str(item)) != std::string::npos);
  }
  if (whole.is_array()) return Value::Own(std::find(whole.begin(), whole.end(), item.get()) != whole.end());
  return Value::Own(item.get().is_string() && whole.contains(Str(item)));
}

template <bool kAtStart>
Value Affix(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  Value affix = Arg(evaluator, call, 1);
  const std::string& text = Str(value);
  const std::string& part = Str(affix);
  if (part.size() > text.size()) return Value::Own(false);
  return Value::Own(text.compare(kAtStart ? 0 : text.size() - part.size(), part.size(), part) == 0);
}

// Calls add(part) for each part split() makes, in order, within max_output_bytes for the list.
template <typename Add>
void SplitParts(Evaluator& evaluator, const Node& call, const Add& add) {
  Value value = Arg(evaluator, call, 0);
  const std::string& text = Str(value);
  size_t bytes = 8;
  auto part = [&](size_t start, size_t length) {
    const std::string_view piece = std::string_view(text).substr(start, length);
    bytes += 16 + piece.size();
    evaluator.CheckSize(bytes);
    add(piece);
  };
  Value separator = Has(call, 1) ? Arg(evaluator, call, 1) : Value::Own(nullptr);
  if (separator.get().is_null()) {  // as Python: runs of whitespace, no empty parts
    auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };  // " \t\n\v\f\r"
    for (size_t start = 0; start < text.size();) {
      if (space(text[start])) {
        ++start;
        continue;
      }
      size_t end = start + 1;
      while (end < text.size() && !space(text[end])) ++end;
      part(start, end - start);
      start = end;
    }
    return;
  }
  const std::string& sep = Str(separator);
  if (sep.empty()) evaluator.Fail(std::string(call.filter->name) + "(): 'separator' must not be empty");
  size_t start = 0;
  for (size_t found; (found = text.find(sep, start)) != std::string::npos; start = found + sep.size()) {
    part(start, found - start);
  }
  part(start, std::string::npos);
}

Value Split(Evaluator& evaluator, const Node& call) {
  nlohmann::json parts = nlohmann::json::array();
  SplitParts(evaluator, call, [&](std::string_view piece) { parts.push_back(std::string(piece)); });
  return Value::Own(std::move(parts));
}

size_t SplitCount(Evaluator& evaluator, const Node& call) {
  size_t count = 0;
  SplitParts(evaluator, call, [&](std::string_view) { ++count; });
  return count;
}

Value Join(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  const std::string sep = Has(call, 1) ? Str(Arg(evaluator, call, 1)) : std::string();
  std::string out;
  bool first = true;
  for (const auto& item : value.get()) {
    if (!first) out += sep;
    first = false;
    out += ToText(item);
    evaluator.CheckSize(out.size());
  }
  return Value::Own(std::move(out));
}

Value Replace(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  Value old_value = Arg(evaluator, call, 1);
  Value new_value = Arg(evaluator, call, 2);
  const std::string& text = Str(value);
  const std::string& from = Str(old_value);
  const std::string& to = Str(new_value);
  if (from.empty()) evaluator.Fail(std::string(call.filter->name) + "(): 'old' must not be empty");
  std::string out;
  size_t start = 0;
  for (size_t found; (found = text.find(from, start)) != std::string::npos; start = found + from.size()) {
    out.append(text, start, found - start);
    out += to;
    evaluator.CheckSize(out.size());
  }
  out.append(text, start);
  evaluator.CheckSize(out.size());
  return Value::Own(std::move(out));
}

Value Default(Evaluator& evaluator, const Node& call) {
  Value value = evaluator.Eval(*call.children[0]);
  const bool also_falsy = Has(call, 2) && Arg(evaluator, call, 2).get().get<bool>();
  if (!value.undefined() && !value.get().is_null() && !(also_falsy && !Expression::Truthy(value.get()))) {
    return value;
  }
  return Has(call, 1) ? evaluator.Eval(*call.children[1]) : Value::Own("");
}

Value Json(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  int indent = -1;
  if (Has(call, 1)) {
    Value option = Arg(evaluator, call, 1);
    Number number;
    if (option.get().is_boolean()) {
      indent = option.get().get<bool>() ? 2 : -1;
    } else if (ToNumber(option.get(), &number) && number.integer && number.i >= 0 && number.i <= 16) {
      indent = static_cast<int>(number.i);
    } else {
      evaluator.Fail(std::string(call.filter->name) + "(): 'indent' must be true, false or 0 to 16");
    }
  }
  std::string text = DumpJson(value.get(), indent);
  evaluator.CheckSize(text.size());
  return Value::Own(std::move(text));
}

size_t JsonNesting(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Value FromJson(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  const std::string& text = Str(value);
  if (JsonNesting(text) > evaluator.limits().max_depth) {
    evaluator.Fail(std::string(call.filter->name) + "(): the JSON is nested deeper than " +
                       std::to_string(evaluator.limits().max_depth) + " levels (max_depth)",
                   EvalResult::ErrorKind::kLimit);
  }
  try {
    return Value::Own(nlohmann::json::parse(text));
  } catch (const nlohmann::json::parse_error& error) {
    evaluator.Fail(std::string(call.filter->name) + "(): the text is not JSON (at byte " +
                   std::to_string(error.byte) + ")");
  }
}

Value Round(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  Number number, precision{true, 0, 0};
  ToNumber(value.get(), &number);
  if (Has(call, 1) && (!ToNumber(Arg(evaluator, call, 1).get(), &precision) || !precision.integer)) {
    evaluator.Fail(std::string(call.filter->name) + "(): 'precision' must be a whole number");
  }
  const int64_t digits = std::clamp<int64_t>(precision.i, -18, 18);
  if (number.integer && digits >= 0) return Value::Own(number.i);
  const double scale = std::pow(10.0, static_cast<double>(digits));
  const double rounded = std::round(number.AsDouble() * scale) / scale;
  if (!std::isfinite(rounded)) return Value::Own(number.AsDouble());
  if (number.integer) return Value::Own(static_cast<int64_t>(rounded));
  return Value::Own(rounded);
}

// int() and float(): numbers, booleans and numeric strings; `fallback` otherwise.
template <bool kInteger>
Value ToNumberFilter(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  const nlohmann::json& input = value.get();
  Number number;
  bool ok = ToNumber(input, &number);
  if (input.is_boolean()) {
    number = {true, input.get<bool>() ? 1 : 0, 0};
    ok = true;
  } else if (input.is_string()) {
    std::string_view text = Str(value);
    const size_t first = text.find_first_not_of(" \t\n\r");
    text = first == std::string_view::npos ? std::string_view() : text.substr(first, text.find_last_not_of(" \t\n\r") - first + 1);
    if (!text.empty() && text[0] == '+') text.remove_prefix(1);
    const char* end = text.data() + text.size();
    int64_t integer = 0;
    double real = 0;
    if (auto r = std::from_chars(text.data(), end, integer); !text.empty() && r.ec == std::errc() && r.ptr == end) {
      number = {true, integer, 0};
      ok = true;
    } else if (auto f = std::from_chars(text.data(), end, real);
               !text.empty() && f.ec == std::errc() && f.ptr == end && std::isfinite(real)) {
      number = {false, 0, real};
      ok = true;
    }
  }
  if (ok && kInteger && !number.integer) {
    ok = std::fabs(number.d) < 9.2e18;
    number = {true, ok ? static_cast<int64_t>(number.d) : 0, 0};
  }
  if (ok) return Value::Own(kInteger ? nlohmann::json(number.i) : nlohmann::json(number.AsDouble()));
  if (Has(call, 1)) return evaluator.EvalDefined(*call.children[1]);
  evaluator.Fail(std::string(call.filter->name) + "() cannot convert " +
                 (input.is_string() ? Preview(Str(value)) : std::string(KindName(KindOf(input)))) + " to " +
                 (kInteger ? "an integer" : "a number"));
}

Value String(Evaluator& evaluator, const Node& call) {
  std::string text = ToText(Arg(evaluator, call, 0).get());
  evaluator.CheckSize(text.size());
  return Value::Own(std::move(text));
}

template <bool kFirst>
Value End(Evaluator& evaluator, const Node& call) {
  Value value = Arg(evaluator, call, 0);
  const nlohmann::json& whole = value.get();
  const char* name = call.filter->name;
  if (whole.is_array()) {
    if (whole.empty()) return Value::Undefined(std::string(name) + "() of an empty list");
    return ElementOf(value, kFirst ? whole.front() : whole.back());
  }
  const std::string& text = Str(value);
  if (text.empty()) return Value::Undefined(std::string(name) + "() of an empty string");
  const std::vector<size_t> starts = CodePointStarts(text);
  const size_t begin = kFirst ? 0 : starts.back();
  const size_t end = kFirst ? (starts.size() > 1 ? starts[1] : text.size()) : text.size();
  return Value::Own(text.substr(begin, end - begin));
}

Value Abs(Evaluator& evaluator, const Node& call) {
  Number number;
  ToNumber(Arg(evaluator, call, 0).get(), &number);
  if (number.integer && number.i != std::numeric_limits<int64_t>::min()) return Value::Own(std::abs(number.i));
  return Value::Own(std::fabs(number.AsDouble()));
}

const std::vector<FilterSpec> kFilters = {
    {"length", {"value"}, {kContainerKinds}, kNumberKind, Length},
    {"lower", {"value"}, {kStringKind}, kStringKind, MapChars<AsciiLower>},
    {"upper", {"value"}, {kStringKind}, kStringKind, MapChars<AsciiUpper>},
    {"trim", {"value", "chars?"}, {kStringKind, kStringKind}, kStringKind, Trim},
    {"contains", {"value", "item"}, {kContainerKinds, kAnyKind}, kBoolKind, Contains},
    {"starts_with", {"value", "prefix"}, {kStringKind, kStringKind}, kBoolKind, Affix<true>},
    {"ends_with", {"value", "suffix"}, {kStringKind, kStringKind}, kBoolKind, Affix<false>},
    {"split", {"value", "separator?"}, {kStringKind, kStringKind | kNullKind}, kListKind, Split, false, SplitCount},
    {"join", {"value", "separator?"}, {kListKind, kStringKind}, kStringKind, Join},
    {"replace", {"value", "old", "new"}, {kStringKind, kStringKind, kStringKind}, kStringKind, Replace},
    {"default", {"value", "fallback?", "also_falsy?"}, {kAnyKind, kAnyKind, kBoolKind}, kAnyKind, Default, true},
    {"json", {"value", "indent?"}, {kAnyKind, kNumberKind | kBoolKind}, kStringKind, Json},
    {"tojson", {"value", "indent?"}, {kAnyKind, kNumberKind | kBoolKind}, kStringKind, Json},
    {"from_json", {"value"}, {kStringKind}, kAnyKind, FromJson},
    {"round", {"value", "precision?"}, {kNumberKind, kNumberKind}, kNumberKind, Round},
    {"int", {"value", "fallback?"}, {kNumberKind | kStringKind | kBoolKind | kNullKind, kAnyKind}, kAnyKind,
     ToNumberFilter<true>},
    {"float", {"value", "fallback?"}, {kNumberKind | kStringKind | kBoolKind | kNullKind, kAnyKind}, kAnyKind,
     ToNumberFilter<false>},
    {"string", {"value"}, {kAnyKind}, kStringKind, String},
    {"first", {"value"}, {kSequenceKinds}, kAnyKind, End<true>},
    {"last", {"value"}, {kSequenceKinds}, kAnyKind, End<false>},
    {"abs", {"value"}, {kNumberKind}, kNumberKind, Abs},
};

std::string ArgName(const char* arg) {
  std::string name = arg;
  if (!name.empty() && name.back() == '?') name.pop_back();
  return name;
}

}  // namespace

size_t FilterSpec::min_args() const {
  return static_cast<size_t>(std::count_if(args.begin(), args.end(), [](const char* arg) {
    const std::string_view written = arg;
    return written.empty() || written.back() != '?';
  }));
}

const std::vector<FilterSpec>& Filters() { return kFilters; }

const FilterSpec* FindFilter(std::string_view name) {
  for (const auto& spec : kFilters) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

const std::vector<std::string>& FilterNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& spec : kFilters) list.push_back(spec.name);
    return list;
  }();
  return names;
}

std::string ArityError(const FilterSpec& spec, bool as_filter, size_t given) {
  std::string params;
  size_t optional = 0;
  for (size_t i = as_filter ? 1 : 0; i < spec.args.size(); ++i) {
    const std::string name = ArgName(spec.args[i]);
    const bool is_optional = name.size() != std::string_view(spec.args[i]).size();
    const bool first = params.empty() && optional == 0;
    params += is_optional ? (first ? "[" : "[, ") : (first ? "" : ", ");
    params += name;
    if (is_optional) ++optional;
  }
  params += std::string(optional, ']');
  if (as_filter) {
    return "wrong number of arguments to filter '" + std::string(spec.name) + "': got " + std::to_string(given) +
           ", expected value | " + spec.name + (params.empty() ? "" : "(" + params + ")");
  }
  return "wrong number of arguments to " + std::string(spec.name) + "(): got " + std::to_string(given) +
         ", expected " + spec.name + "(" + params + ")";
}

std::string ArgTypeError(const FilterSpec& spec, size_t index, Kinds got) {
  if (index == 0) {
    return std::string(spec.name) + "() needs " + KindsText(spec.kinds[0] & ~kNullKind) + ", got " + KindName(got);
  }
  return std::string(spec.name) + "(): '" + ArgName(spec.args[index]) + "' must be " + KindsText(spec.kinds[index]) +
         ", got " + KindName(got);
}

}  // namespace flowrun::expr
