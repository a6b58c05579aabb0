// Compiler-style diagnostics: "file:line:col: error: message" (or
// "warning:"), the source line, and a caret under the offending text.
// Collected in one pass so a user sees every problem at once. A warning
// does not make a load fail. Not thread-safe; one list per load.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace flowrun {

// 1-based line and column; line 0 means "no position known".
struct SourceLocation {
  int line = 0;
  int column = 0;
  int length = 1;  // how many characters the caret underlines
};

struct Diagnostic {
  std::string file;
  SourceLocation where;
  std::string message;
  bool warning = false;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file = "", std::string source = "")
      : file_(std::move(file)), source_(std::move(source)) {}

  void Error(SourceLocation where, std::string message);
  void Warning(SourceLocation where, std::string message);

  // Errors only: a list with nothing but warnings is empty().
  bool empty() const { return errors_ == 0; }
  size_t size() const { return errors_; }
  size_t warning_count() const { return list_.size() - errors_; }
  const std::vector<Diagnostic>& list() const { return list_; }
  const std::string& file() const { return file_; }
  // The text of a 1-based line of the source ("" past its end), for
  // diagnostics formatted later, apart from this list.
  std::string LineText(int line) const;

  // Every diagnostic (errors and warnings) formatted, in order of position.
  std::string ToString() const;

 private:
  std::string file_;
  std::string source_;
  std::vector<Diagnostic> list_;
  size_t errors_ = 0;
};

// One diagnostic with its source line and caret (when the position is known).
std::string FormatDiagnostic(const Diagnostic& diagnostic, std::string_view source);
// The same, given the text of the diagnostic's line (kept from the source).
std::string FormatDiagnosticAtLine(const Diagnostic& diagnostic, std::string_view line);

}  // namespace flowrun
