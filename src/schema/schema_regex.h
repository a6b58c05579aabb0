// SchemaRegex: a `pattern` of a JSON Schema, compiled once with PCRE2 (UTF,
// UCP, `$` only at the end, \u escapes as in ECMA-262) and searched
// unanchored with match, depth and heap limits, so a catastrophic pattern on
// a long model reply gives up quickly instead of hanging or blowing the
// stack. PCRE2 stays out of this header (only src/schema/ may include it).
// Thread-safety: a compiled SchemaRegex is immutable; Search may be called
// from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace flowrun::schema_internal {

inline constexpr uint32_t kRegexMatchLimit = 1'000'000;  // PCRE2 match() calls per search
inline constexpr uint32_t kRegexDepthLimit = 10'000;     // nested backtracking points
inline constexpr uint32_t kRegexHeapLimitKib = 65'536;   // backtracking memory, 64 MiB

class SchemaRegex {
 public:
  enum class Outcome { kMatch, kNoMatch, kGaveUp };
  struct SearchResult {
    Outcome outcome;
    std::string reason;  // for kGaveUp: "the regex match limit (1000000) was reached"
  };

  // Null with `error` set ("missing closing parenthesis at offset 1") when
  // `pattern` does not compile.
  static std::unique_ptr<SchemaRegex> Compile(std::string_view pattern, std::string* error);
  ~SchemaRegex();
  SchemaRegex(const SchemaRegex&) = delete;
  SchemaRegex& operator=(const SchemaRegex&) = delete;

  SearchResult Search(std::string_view subject) const;

 private:
  struct Impl;
  explicit SchemaRegex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowrun::schema_internal
