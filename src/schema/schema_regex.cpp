// SchemaRegex on PCRE2's interpreter (no JIT, so the match and depth limits
// apply as documented). ECMA-262's long category names (\p{Letter}) are
// rewritten to PCRE2's short ones first. Match data is made per search; a match context
// holding the limits is made once at compile time and only read after.
#include "schema/schema_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <map>

namespace flowrun::schema_internal {
namespace {

// ECMA-262's General_Category names that PCRE2 10.42 knows only by their short
// form (it takes script names long and short, and sc=/scx= itself).
const std::map<std::string, std::string, std::less<>>& CategoryNames() {
  static const std::map<std::string, std::string, std::less<>> names = {{"Cased_Letter", "L&"},
                                                                        {"LC", "L&"},
                                                                        {"Close_Punctuation", "Pe"},
                                                                        {"Connector_Punctuation", "Pc"},
                                                                        {"Control", "Cc"},
                                                                        {"cntrl", "Cc"},
                                                                        {"Currency_Symbol", "Sc"},
                                                                        {"Dash_Punctuation", "Pd"},
                                                                        {"Decimal_Number", "Nd"},
                                                                        {"digit", "Nd"},
                                                                        {"Enclosing_Mark", "Me"},
                                                                        {"Final_Punctuation", "Pf"},
                                                                        {"Format", "Cf"},
                                                                        {"Initial_Punctuation", "Pi"},
                                                                        {"Letter", "L"},
                                                                        {"Letter_Number", "Nl"},
                                                                        {"Line_Separator", "Zl"},
                                                                        {"Lowercase_Letter", "Ll"},
                                                                        {"Mark", "M"},
                                                                        {"Combining_Mark", "M"},
                                                                        {"Math_Symbol", "Sm"},
                                                                        {"Modifier_Letter", "Lm"},
                                                                        {"Modifier_Symbol", "Sk"},
                                                                        {"Nonspacing_Mark", "Mn"},
                                                                        {"Number", "N"},
                                                                        {"Open_Punctuation", "Ps"},
                                                                        {"Other", "C"},
                                                                        {"Other_Letter", "Lo"},
                                                                        {"Other_Number", "No"},
                                                                        {"Other_Punctuation", "Po"},
                                                                        {"Other_Symbol", "So"},
                                                                        {"Paragraph_Separator", "Zp"},
                                                                        {"Private_Use", "Co"},
                                                                        {"Punctuation", "P"},
                                                                        {"punct", "P"},
                                                                        {"Separator", "Z"},
                                                                        {"Space_Separator", "Zs"},
                                                                        {"Spacing_Mark", "Mc"},
                                                                        {"Surrogate", "Cs"},
                                                                        {"Symbol", "S"},
                                                                        {"Titlecase_Letter", "Lt"},
                                                                        {"Unassigned", "Cn"},
                                                                        {"Uppercase_Letter", "Lu"}};
  return names;
}

// \p{Letter}, \p{gc=Letter}, \p{General_Category=L} -> \p{L} (and \P alike).
std::string TranslateProperties(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out += pattern[i];
      continue;
    }
    const char letter = pattern[i + 1];
    const size_t close = pattern.find('}', i);
    if ((letter == 'p' || letter == 'P') && i + 2 < pattern.size() && pattern[i + 2] == '{' &&
        close != std::string_view::npos) {
      std::string_view name = pattern.substr(i + 3, close - i - 3);
      for (std::string_view prefix : {"gc=", "General_Category="}) {
        if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
      }
      auto known = CategoryNames().find(name);
      if (known != CategoryNames().end()) {
        out += std::string("\\") + letter + "{" + known->second + "}";
      } else {
        out += pattern.substr(i, close - i + 1);  // PCRE2 reads it, or says why not
      }
      i = close;
      continue;
    }
    out += pattern.substr(i, 2);  // an escape: its second character is never the start of one
    ++i;
  }
  return out;
}

}  // namespace

struct SchemaRegex::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  ~Impl() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

SchemaRegex::SchemaRegex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchemaRegex::~SchemaRegex() = default;

std::unique_ptr<SchemaRegex> SchemaRegex::Compile(std::string_view pattern, std::string* error) {
  pcre2_compile_context* compile_context = pcre2_compile_context_create(nullptr);
  if (compile_context == nullptr) {
    *error = "out of memory";
    return nullptr;
  }
  // \u{...} as well as \uXXXX, as ECMA-262 with the u flag reads them.
  pcre2_set_compile_extra_options(compile_context, PCRE2_EXTRA_ALT_BSUX);
  const std::string translated = TranslateProperties(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX, &error_code,
                                   &error_offset, compile_context);
  pcre2_compile_context_free(compile_context);
  if (code == nullptr) {
    PCRE2_UCHAR buffer[256];
    int length = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
    std::string text = length > 0 ? std::string(reinterpret_cast<const char*>(buffer), length) : "unknown error";
    *error = text + " at offset " + std::to_string(error_offset);
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->code = code;
  impl->context = pcre2_match_context_create(nullptr);
  if (impl->context == nullptr) {
    *error = "out of memory";
    return nullptr;
  }
  pcre2_set_match_limit(impl->context, kRegexMatchLimit);
  pcre2_set_depth_limit(impl->context, kRegexDepthLimit);
  pcre2_set_heap_limit(impl->context, kRegexHeapLimitKib);
  return std::unique_ptr<SchemaRegex>(new SchemaRegex(std::move(impl)));
}

SchemaRegex::SearchResult SchemaRegex::Search(std::string_view subject) const {
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  if (data == nullptr) return {Outcome::kGaveUp, "out of memory"};
  // The UTF-8 check stays on: a string built in code (not parsed) may be
  // malformed, and PCRE2 on malformed UTF-8 without the check is undefined.
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, data,
                       impl_->context);
  pcre2_match_data_free(data);
  if (rc >= 0) return {Outcome::kMatch, ""};
  switch (rc) {
    case PCRE2_ERROR_NOMATCH:
      return {Outcome::kNoMatch, ""};
    case PCRE2_ERROR_MATCHLIMIT:
      return {Outcome::kGaveUp, "the regex match limit (" + std::to_string(kRegexMatchLimit) + ") was reached"};
    case PCRE2_ERROR_DEPTHLIMIT:
      return {Outcome::kGaveUp, "the regex depth limit (" + std::to_string(kRegexDepthLimit) + ") was reached"};
    case PCRE2_ERROR_HEAPLIMIT:
      return {Outcome::kGaveUp, "the regex heap limit (" + std::to_string(kRegexHeapLimitKib) + " KiB) was reached"};
    default: {
      PCRE2_UCHAR buffer[256];
      int length = pcre2_get_error_message(rc, buffer, sizeof(buffer));
      return {Outcome::kGaveUp, length > 0 ? std::string(reinterpret_cast<const char*>(buffer), length)
                                           : "regex error " + std::to_string(rc)};
    }
  }
}

}  // namespace flowrun::schema_internal
