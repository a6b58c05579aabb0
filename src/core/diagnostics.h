// Compiler-style diagnostics: "file:line:col: error: message", the source
// line, and a caret under the offending text. Collected in one pass so a
// user sees every problem at once. Not thread-safe; one list per load.
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
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file = "", std::string source = "")
      : file_(std::move(file)), source_(std::move(source)) {}

  void Error(SourceLocation where, std::string message);

  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  const std::string& file() const { return file_; }

  // Every diagnostic formatted, in order of position.
  std::string ToString() const;

 private:
  std::string file_;
  std::string source_;
  std::vector<Diagnostic> list_;
};

// One diagnostic with its source line and caret (when the position is known).
std::string FormatDiagnostic(const Diagnostic& diagnostic, std::string_view source);

}  // namespace flowrun
