// Template parsing: the text is cut into pieces (text, {{ }}, {% %}, {# #}),
// whitespace control is applied, then the tags are parsed into blocks.
#include <algorithm>
#include <array>
#include <cctype>

#include "core/edit_distance.h"
#include "templates/template_tree.h"

namespace flowrun::template_internal {
namespace {

struct Piece {
  enum class Kind { kText, kOutput, kTag, kComment, kRawBound };
  Kind kind = Kind::kText;
  size_t open = 0;                 // where the piece starts ("{{")
  size_t begin = 0, end = 0;       // its content (text, or inside the delimiters)
  bool strip_before = false;       // {{- {%- {#-
  bool strip_after = false;        // -}} -%} -#}
};

struct Failure {
  ParseError error;
};

[[noreturn]] void Fail(std::string message, size_t offset) { throw Failure{{std::move(message), offset}}; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view text, size_t* offset = nullptr) {
  size_t first = 0;
  while (first < text.size() && IsSpace(text[first])) ++first;
  size_t last = text.size();
  while (last > first && IsSpace(text[last - 1])) --last;
  if (offset != nullptr) *offset += first;
  return text.substr(first, last - first);
}

// `text` shortened for a message, cut on a UTF-8 boundary.
std::string Preview(std::string_view text) {
  if (text.size() <= 60) return std::string(text);
  size_t cut = 57;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

// Where `close` ends the piece whose content starts at `from`: outside
// string literals and, for "}}", outside brackets (so `{{ {"a": 1} }}`
// works); npos when it is not there.
size_t FindClose(std::string_view text, size_t from, std::string_view close, bool track_brackets) {
  int depth = 0;
  for (size_t i = from; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      size_t j = i + 1;
      while (j < text.size() && text[j] != c) j += text[j] == '\\' ? 2 : 1;
      if (j >= text.size()) break;  // an unterminated string: let the expression parser say so
      i = j;
    } else if (track_brackets && (c == '(' || c == '[' || c == '{')) {
      ++depth;
    } else if (track_brackets && depth > 0 && (c == ')' || c == ']' || c == '}')) {
      --depth;
    } else if (depth == 0 && text.compare(i, close.size(), close) == 0) {
      return i;
    }
  }
  if (track_brackets) return FindClose(text, from, close, false);
  return text.find(close, from);
}

// Reads the delimited piece opening at text[open]; returns the offset after it.
size_t ReadPiece(std::string_view text, size_t open, Piece* piece) {
  static const std::array<std::string_view, 3> kCloses = {"}}", "%}", "#}"};
  const char kind = text[open + 1];
  const size_t which = kind == '{' ? 0 : kind == '%' ? 1 : 2;
  piece->kind = which == 0 ? Piece::Kind::kOutput : which == 1 ? Piece::Kind::kTag : Piece::Kind::kComment;
  piece->open = open;
  size_t begin = open + 2;
  if (begin < text.size() && (text[begin] == '-' || text[begin] == '+')) {
    piece->strip_before = text[begin] == '-';
    ++begin;
  }
  const size_t close = which == 2 ? text.find("#}", begin) : FindClose(text, begin, kCloses[which], which == 0);
  if (close == std::string_view::npos) {
    Fail("unclosed '" + std::string(text.substr(open, 2)) + "' (expected '" + std::string(kCloses[which]) + "')",
         open);
  }
  size_t end = close;
  if (end > begin && text[end - 1] == '-') {
    piece->strip_after = true;
    --end;
  }
  piece->begin = begin;
  piece->end = end;
  return close + 2;
}

// `{% endraw %}` (with optional '-' markers) at text[open]: the offset after
// it, with *piece its bound; npos when something else is there.
size_t MatchEndRaw(std::string_view text, size_t open, Piece* piece) {
  size_t i = open + 2;
  *piece = {Piece::Kind::kRawBound, open, 0, 0, false, false};
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) piece->strip_before = text[i++] == '-';
  while (i < text.size() && IsSpace(text[i])) ++i;
  if (text.compare(i, 6, "endraw") != 0) return std::string_view::npos;
  i += 6;
  while (i < text.size() && IsSpace(text[i])) ++i;
  if (i < text.size() && text[i] == '-') {
    piece->strip_after = true;
    ++i;
  }
  return text.compare(i, 2, "%}") == 0 ? i + 2 : std::string_view::npos;
}

bool IsTag(std::string_view text, const Piece& piece, std::string_view name) {
  return piece.kind == Piece::Kind::kTag && Trim(text.substr(piece.begin, piece.end - piece.begin)) == name;
}

std::vector<Piece> Cut(std::string_view text) {
  std::vector<Piece> pieces;
  size_t position = 0;
  while (position < text.size()) {
    size_t open = position;
    while ((open = text.find('{', open)) != std::string_view::npos && open + 1 < text.size() &&
           text[open + 1] != '{' && text[open + 1] != '%' && text[open + 1] != '#') {
      ++open;
    }
    if (open == std::string_view::npos || open + 1 >= text.size()) open = text.size();
    if (open > position) pieces.push_back({Piece::Kind::kText, position, position, open, false, false});
    if (open == text.size()) break;
    Piece piece;
    position = ReadPiece(text, open, &piece);
    if (!IsTag(text, piece, "raw")) {
      pieces.push_back(piece);
      continue;
    }
    // {% raw %}: everything up to {% endraw %} is text.
    piece.kind = Piece::Kind::kRawBound;
    pieces.push_back(piece);
    for (size_t search = position;; ++search) {
      search = text.find("{%", search);
      if (search == std::string_view::npos) Fail("unclosed 'raw' (expected '{% endraw %}')", piece.open);
      Piece end;
      const size_t after = MatchEndRaw(text, search, &end);
      if (after == std::string_view::npos) continue;
      pieces.push_back({Piece::Kind::kText, position, position, search, false, false});
      pieces.push_back(end);
      position = after;
      break;
    }
  }
  // Whitespace control: a '-' strips the whitespace of the text beside it.
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].kind != Piece::Kind::kText) continue;
    Piece& piece = pieces[i];
    if (i > 0 && pieces[i - 1].strip_after) {
      while (piece.begin < piece.end && IsSpace(text[piece.begin])) ++piece.begin;
    }
    if (i + 1 < pieces.size() && pieces[i + 1].strip_before) {
      while (piece.end > piece.begin && IsSpace(text[piece.end - 1])) --piece.end;
    }
  }
  return pieces;
}

const std::vector<std::string> kTagNames = {"if", "elif", "else", "endif", "for", "endfor", "set", "raw", "endraw"};
const std::vector<std::string> kJinjaOnlyTags = {"with", "endwith", "macro", "endmacro", "call", "endcall",
                                                 "filter", "endfilter", "block", "endblock", "extends",
                                                 "include", "import", "from", "autoescape", "do", "break",
                                                 "continue", "endset"};

class Parser {
 public:
  Parser(std::string_view text, std::vector<Piece> pieces) : text_(text), pieces_(std::move(pieces)) {}

  void ParseAll(std::vector<Node>* body) {
    std::string end;
    ParseBody(body, {}, &end);
  }

 private:
  struct Tag {
    std::string name;
    std::string_view rest;  // after the name, trimmed
    size_t rest_offset = 0;
    std::string_view content;  // the whole tag, trimmed, for messages
    size_t open = 0;
  };

  Tag ReadTag(const Piece& piece) const {
    Tag tag;
    tag.open = piece.open;
    size_t offset = piece.begin;
    tag.content = Trim(text_.substr(piece.begin, piece.end - piece.begin), &offset);
    size_t name_end = 0;
    while (name_end < tag.content.size() &&
           (std::isalpha(static_cast<unsigned char>(tag.content[name_end])) || tag.content[name_end] == '_' ||
            (name_end > 0 && std::isdigit(static_cast<unsigned char>(tag.content[name_end]))))) {
      ++name_end;
    }
    tag.name = std::string(tag.content.substr(0, name_end));
    tag.rest_offset = offset + name_end;
    tag.rest = Trim(tag.content.substr(name_end), &tag.rest_offset);
    return tag;
  }

  PlacedExpression ParseExpression(std::string_view source, size_t offset, const std::string& context) {
    expr::ExprError error;
    auto expression = expr::Expression::Parse(source, &error);
    if (!expression) Fail(error.message + " in " + context, offset + error.where.offset);
    return {std::move(*expression), offset};
  }
  // The expression `source` at `offset` in the tag, which follows `after`.
  PlacedExpression TagExpression(const Tag& tag, std::string_view source, size_t offset, std::string_view after,
                                 const char* what) {
    if (source.empty()) Fail("expected " + std::string(what) + " after '" + std::string(after) + "'", offset);
    return ParseExpression(source, offset, "'{% " + Preview(tag.content) + " %}'");
  }
  PlacedExpression TagExpression(const Tag& tag, const char* what) {
    return TagExpression(tag, tag.rest, tag.rest_offset, tag.name, what);
  }

  // Parses nodes until one of `ends` (returned in *end) or the end of the text.
  void ParseBody(std::vector<Node>* body, const std::vector<std::string_view>& ends, std::string* end) {
    while (index_ < pieces_.size()) {
      const Piece& piece = pieces_[index_++];
      switch (piece.kind) {
        case Piece::Kind::kText:
          if (piece.end > piece.begin) {
            if (!body->empty() && body->back().kind == Node::Kind::kText) {
              body->back().text.append(text_.substr(piece.begin, piece.end - piece.begin));
            } else {
              Node node;
              node.text = std::string(text_.substr(piece.begin, piece.end - piece.begin));
              body->push_back(std::move(node));
            }
          }
          break;
        case Piece::Kind::kComment:
        case Piece::Kind::kRawBound:
          break;
        case Piece::Kind::kOutput: {
          size_t offset = piece.begin;
          std::string_view inner = Trim(text_.substr(piece.begin, piece.end - piece.begin), &offset);
          if (inner.empty()) Fail("empty placeholder '{{ }}'", piece.open);
          Node node;
          node.kind = Node::Kind::kOutput;
          node.value = ParseExpression(inner, offset, "placeholder '" + Preview(inner) + "'");
          body->push_back(std::move(node));
          break;
        }
        case Piece::Kind::kTag: {
          Tag tag = ReadTag(piece);
          if (std::find(ends.begin(), ends.end(), tag.name) != ends.end()) {
            if ((tag.name == "else" || tag.name.rfind("end", 0) == 0) && !tag.rest.empty()) {
              Fail("unexpected '" + Preview(tag.rest) + "' after '" + tag.name + "'", tag.rest_offset);
            }
            *end = tag.name;
            last_tag_ = tag;
            return;
          }
          ParseTag(tag, body);
          break;
        }
      }
    }
    if (!open_.empty()) {
      const auto& [name, offset] = open_.back();
      Fail("unclosed '" + name + "' (expected '{% end" + name + " %}')", offset);
    }
  }

  void ParseTag(const Tag& tag, std::vector<Node>* body) {
    if (tag.name == "if") return ParseIf(tag, body);
    if (tag.name == "for") return ParseFor(tag, body);
    if (tag.name == "set") return ParseSet(tag, body);
    if (tag.name.empty()) Fail(tag.content.empty() ? "empty tag '{% %}'" : "expected a tag name after '{%'", tag.open);
    if (std::find(kTagNames.begin(), kTagNames.end(), tag.name) != kTagNames.end()) {
      if (open_.empty()) Fail("unexpected '" + tag.name + "': no block is open", tag.open);
      const std::string& name = open_.back().first;
      Fail("unexpected '" + tag.name + "'; the open block is '" + name + "', closed by '{% end" + name + " %}'",
           tag.open);
    }
    if (std::find(kJinjaOnlyTags.begin(), kJinjaOnlyTags.end(), tag.name) != kJinjaOnlyTags.end()) {
      Fail("the '" + tag.name + "' tag is not supported (flowrun templates have if, for, set and raw)", tag.open);
    }
    Fail("unknown tag '" + tag.name + "'" + DidYouMean(tag.name, kTagNames), tag.open);
  }

  void Open(const Tag& tag) {
    if (open_.size() >= kMaxBlockDepth) {
      Fail("blocks are nested too deeply (more than " + std::to_string(kMaxBlockDepth) + " levels)", tag.open);
    }
    open_.emplace_back(tag.name, tag.open);
  }

  void ParseIf(const Tag& tag, std::vector<Node>* body) {
    Open(tag);
    Node node;
    node.kind = Node::Kind::kIf;
    node.branches.push_back({TagExpression(tag, "a condition"), {}});
    std::string end;
    ParseBody(&node.branches.back().body, {"elif", "else", "endif"}, &end);
    while (end == "elif") {
      node.branches.push_back({TagExpression(last_tag_, "a condition"), {}});
      ParseBody(&node.branches.back().body, {"elif", "else", "endif"}, &end);
    }
    if (end == "else") {
      node.branches.push_back({std::nullopt, {}});
      ParseBody(&node.branches.back().body, {"endif"}, &end);
    }
    open_.pop_back();
    body->push_back(std::move(node));
  }

  // The name at the start of the tag's rest (a loop variable, a set
  // target); *rest is what follows it, trimmed, starting at *offset.
  std::string ReadName(const Tag& tag, const char* what, std::string_view* rest, size_t* offset) {
    size_t i = 0;
    while (i < tag.rest.size() && (std::isalnum(static_cast<unsigned char>(tag.rest[i])) || tag.rest[i] == '_')) ++i;
    if (i == 0 || std::isdigit(static_cast<unsigned char>(tag.rest[0]))) {
      Fail("expected " + std::string(what) + " after '" + tag.name + "'", tag.rest_offset);
    }
    std::string name(tag.rest.substr(0, i));
    if (name == "loop") Fail("'loop' is set by for loops; choose another name", tag.rest_offset);
    *offset = tag.rest_offset + i;
    *rest = Trim(tag.rest.substr(i), offset);
    return name;
  }

  void ParseFor(const Tag& tag, std::vector<Node>* body) {
    Open(tag);
    Node node;
    node.kind = Node::Kind::kFor;
    std::string_view rest;
    size_t offset = 0;
    node.text = ReadName(tag, "a loop variable", &rest, &offset);
    if (!rest.empty() && rest[0] == ',') {
      Fail("a for loop takes one variable (unpacking 'a, b' is not supported)", offset);
    }
    if (rest.substr(0, 2) != "in" || (rest.size() > 2 && !IsSpace(rest[2]))) {
      Fail("expected 'in' after 'for " + node.text + "'", offset);
    }
    offset += 2;
    rest = Trim(rest.substr(2), &offset);
    node.value = TagExpression(tag, rest, offset, "in", "a list to loop over");
    std::string end;
    ParseBody(&node.body, {"else", "endfor"}, &end);
    if (end == "else") ParseBody(&node.else_body, {"endfor"}, &end);
    open_.pop_back();
    body->push_back(std::move(node));
  }

  void ParseSet(const Tag& tag, std::vector<Node>* body) {
    Node node;
    node.kind = Node::Kind::kSet;
    std::string_view rest;
    size_t offset = 0;
    node.text = ReadName(tag, "a name", &rest, &offset);
    if (rest.empty() || rest[0] != '=') Fail("expected '=' after 'set " + node.text + "'", offset);
    ++offset;
    rest = Trim(rest.substr(1), &offset);
    node.value = TagExpression(tag, rest, offset, "=", "a value");
    body->push_back(std::move(node));
  }

  std::string_view text_;
  std::vector<Piece> pieces_;
  size_t index_ = 0;
  std::vector<std::pair<std::string, size_t>> open_;  // the open blocks: name, tag offset
  Tag last_tag_;                                       // the tag that ended the last body
};

}  // namespace

bool ParseTemplate(std::string_view text, std::vector<Node>* body, ParseError* error) {
  try {
    Parser parser(text, Cut(text));
    parser.ParseAll(body);
    return true;
  } catch (const Failure& failure) {
    *error = failure.error;
    return false;
  }
}

}  // namespace flowrun::template_internal
