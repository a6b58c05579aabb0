// Formatting of diagnostics with a source excerpt and caret.
#include "core/diagnostics.h"

#include <algorithm>

namespace flowrun {
namespace {

std::string_view LineAt(std::string_view source, int line) {
  size_t start = 0;
  for (int i = 1; i < line; ++i) {
    size_t newline = source.find('\n', start);
    if (newline == std::string_view::npos) return {};
    start = newline + 1;
  }
  size_t end = source.find('\n', start);
  std::string_view text = source.substr(start, end == std::string_view::npos ? source.npos : end - start);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

// A source line longer than this is shown as a window around the column,
// so a one-line megabyte file cannot put a megabyte into a log.
constexpr size_t kMaxExcerptBytes = 160;
// Beyond this many, the rest are counted, not printed.
constexpr size_t kMaxPrinted = 100;

}  // namespace

void Diagnostics::Error(SourceLocation where, std::string message) {
  list_.push_back({file_, where, std::move(message), false});
  ++errors_;
}

void Diagnostics::Warning(SourceLocation where, std::string message) {
  list_.push_back({file_, where, std::move(message), true});
}

std::string Diagnostics::LineText(int line) const { return std::string(LineAt(source_, line)); }

std::string Diagnostics::ToString() const {
  std::vector<Diagnostic> sorted = list_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.where.line != b.where.line ? a.where.line < b.where.line
                                        : a.where.column < b.where.column;
  });
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < kMaxPrinted; ++i) out += FormatDiagnostic(sorted[i], source_);
  if (sorted.size() > kMaxPrinted) {
    out += file_ + ": " + std::to_string(sorted.size() - kMaxPrinted) + " more errors not shown\n";
  }
  return out;
}

std::string FormatDiagnostic(const Diagnostic& diagnostic, std::string_view source) {
  return FormatDiagnosticAtLine(diagnostic, diagnostic.where.line > 0 ? LineAt(source, diagnostic.where.line) : "");
}

std::string FormatDiagnosticAtLine(const Diagnostic& diagnostic, std::string_view line) {
  std::string out = diagnostic.file;
  if (diagnostic.where.line > 0) {
    out += ":" + std::to_string(diagnostic.where.line) + ":" + std::to_string(diagnostic.where.column);
  }
  out += (diagnostic.warning ? ": warning: " : ": error: ") + diagnostic.message + "\n";
  if (line.empty() || diagnostic.where.column < 1) return out;
  // A column past the line's end (a position from a scalar that spans lines) marks its end.
  size_t column = std::min(static_cast<size_t>(diagnostic.where.column - 1), line.size());
  std::string prefix = "    ";
  if (line.size() > kMaxExcerptBytes) {
    // A window around the column, marked with "..." where it was cut.
    const size_t start = column > kMaxExcerptBytes / 2 ? column - kMaxExcerptBytes / 2 : 0;
    const bool cut_end = start + kMaxExcerptBytes < line.size();
    if (start > 0) prefix += "...";
    line = line.substr(start, kMaxExcerptBytes);
    column -= start;
    out += prefix;
    out += line;
    if (cut_end) out += "...";
  } else {
    out += prefix;
    out += line;
  }
  out += "\n";
  out.append(prefix.size(), ' ');
  // Keep tabs so the caret lines up with what the terminal shows.
  for (size_t i = 0; i < column && i < line.size(); ++i) out += line[i] == '\t' ? '\t' : ' ';
  out += '^';
  const size_t length = std::min<size_t>(std::max(1, diagnostic.where.length), kMaxExcerptBytes);
  out.append(length - 1, '~');
  out += "\n";
  return out;
}

}  // namespace flowrun
