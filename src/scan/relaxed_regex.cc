#include "scan/relaxed_regex.h"

#include <algorithm>
#include <cctype>

namespace keyhold::scan {
namespace {

constexpr int kNoLimit = -1;
// RE2 runs its bit-state engine (cheap to start, no per-thread copies of groups) only on
// programs this small.
constexpr int kMaxBitStateProgram = 512;

// One piece of a pattern: an atom with its quantifier, an opening or a closing parenthesis, or
// something without width (`|`, `^`, `\b`, a flag setting).
struct Token {
  enum class Kind { kChar, kOpen, kClose, kOther };
  Kind kind = Kind::kOther;
  size_t begin = 0;
  size_t atom_end = 0;  // the atom is [begin, atom_end), its quantifier [atom_end, end)
  size_t end = 0;
  int group = -1;  // kOpen, kClose: the group's index in the parse; others: the innermost one
  int min = 1, max = 1;
  bool lazy = false;
  bool quantified() const { return atom_end != end; }
};

struct Group {
  bool capturing = false;
  bool quantified = false;
  int parent = -1;
};

bool ParseBraces(std::string_view p, size_t& i, int& min, int& max) {
  size_t j = i + 1;
  auto number = [&](int& out) {
    size_t from = j;
    out = 0;
    while (j < p.size() && std::isdigit(static_cast<unsigned char>(p[j])) && j - from < 5) {
      out = out * 10 + (p[j++] - '0');
    }
    return j > from;
  };
  if (!number(min)) return false;
  max = min;
  if (j < p.size() && p[j] == ',') {
    ++j;
    if (!number(max)) max = kNoLimit;
  }
  if (j >= p.size() || p[j] != '}') return false;
  i = j + 1;
  return true;
}

// Reads a quantifier at p[i], if any, into `t`. False on a second quantifier (RE2 refuses it).
bool ParseQuantifier(std::string_view p, size_t& i, Token& t) {
  if (i >= p.size()) return true;
  const char c = p[i];
  if (c == '*' || c == '+' || c == '?') {
    t.min = c == '+' ? 1 : 0;
    t.max = c == '?' ? 1 : kNoLimit;
    ++i;
  } else if (c != '{' || !ParseBraces(p, i, t.min, t.max)) {
    return true;
  }
  if (i < p.size() && p[i] == '?') {
    t.lazy = true;
    ++i;
  }
  return i >= p.size() || (p[i] != '*' && p[i] != '+' && p[i] != '?' && p[i] != '{');
}

// The end of the escape at p[i] ('\\'), or 0 if it is one this does not follow; `one_char` says
// whether it matches one character (else it has no width).
size_t EscapeEnd(std::string_view p, size_t i, bool& one_char) {
  if (i + 1 >= p.size()) return 0;
  const char e = p[i + 1];
  one_char = true;
  if (e == 'Q' || e == 'C' || std::isdigit(static_cast<unsigned char>(e))) return 0;
  if (e == 'b' || e == 'B' || e == 'A' || e == 'z') {
    one_char = false;
    return i + 2;
  }
  if (e == 'x' || e == 'p' || e == 'P') {
    if (i + 2 < p.size() && p[i + 2] == '{') {
      size_t close = p.find('}', i + 3);
      return close == std::string_view::npos ? 0 : close + 1;
    }
    size_t end = i + (e == 'x' ? 4 : 3);
    return end <= p.size() ? end : 0;
  }
  return i + 2;
}

size_t ClassEnd(std::string_view p, size_t i) {
  size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;
  while (j < p.size() && p[j] != ']') {
    if (p[j] == '\\') {
      bool one = true;
      size_t end = EscapeEnd(p, j, one);
      if (end == 0) return 0;
      j = end;
    } else if (p[j] == '[' && j + 1 < p.size() && p[j + 1] == ':') {
      size_t close = p.find(":]", j + 2);
      if (close == std::string_view::npos) return 0;
      j = close + 2;
    } else {
      ++j;
    }
  }
  return j < p.size() ? j + 1 : 0;
}

// The end of a group's opening at p[i] ('('); `kind` kOther for a flag setting "(?i)".
size_t OpenEnd(std::string_view p, size_t i, bool& capturing, Token::Kind& kind) {
  kind = Token::Kind::kOpen;
  capturing = true;
  if (i + 1 >= p.size() || p[i + 1] != '?') return i + 1;
  size_t j = i + 2;
  if (j < p.size() && (p[j] == '<' || (p[j] == 'P' && j + 1 < p.size() && p[j + 1] == '<'))) {
    size_t close = p.find('>', j);
    return close == std::string_view::npos ? 0 : close + 1;
  }
  capturing = false;
  while (j < p.size() && (std::isalpha(static_cast<unsigned char>(p[j])) || p[j] == '-')) ++j;
  if (j >= p.size()) return 0;
  if (p[j] == ')') kind = Token::Kind::kOther;
  return p[j] == ':' || p[j] == ')' ? j + 1 : 0;
}

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xe) return 3;
  return 4;
}

std::optional<std::vector<Token>> Tokenize(std::string_view p, std::vector<Group>& groups) {
  std::vector<Token> tokens;
  std::vector<int> open;
  size_t i = 0;
  while (i < p.size()) {
    Token t;
    t.begin = i;
    t.group = open.empty() ? -1 : open.back();
    const char c = p[i];
    if (c == '\\') {
      bool one = true;
      i = EscapeEnd(p, i, one);
      if (i == 0) return std::nullopt;
      t.kind = one ? Token::Kind::kChar : Token::Kind::kOther;
    } else if (c == '[') {
      i = ClassEnd(p, i);
      if (i == 0) return std::nullopt;
      t.kind = Token::Kind::kChar;
    } else if (c == '(') {
      bool capturing = true;
      i = OpenEnd(p, i, capturing, t.kind);
      if (i == 0) return std::nullopt;
      if (t.kind == Token::Kind::kOpen) {
        groups.push_back({.capturing = capturing, .parent = t.group});
        t.group = static_cast<int>(groups.size()) - 1;
        open.push_back(t.group);
      }
    } else if (c == ')') {
      if (open.empty()) return std::nullopt;
      t.kind = Token::Kind::kClose;
      t.group = open.back();
      open.pop_back();
      ++i;
    } else if (c == '|' || c == '^' || c == '$') {
      ++i;
    } else if (c == '*' || c == '+' || c == '?') {
      return std::nullopt;  // a quantifier with nothing to repeat
    } else {
      i = std::min(p.size(), i + Utf8Length(static_cast<unsigned char>(c)));
      t.kind = Token::Kind::kChar;
    }
    t.atom_end = i;
    if (t.kind == Token::Kind::kChar || t.kind == Token::Kind::kClose) {
      if (!ParseQuantifier(p, i, t)) return std::nullopt;
      if (t.kind == Token::Kind::kClose && i != t.atom_end) groups[t.group].quantified = true;
    }
    t.end = i;
    tokens.push_back(t);
  }
  if (!open.empty()) return std::nullopt;
  return tokens;
}

bool InsideRepetition(const std::vector<Group>& groups, int group) {
  for (; group >= 0; group = groups[group].parent) {
    if (groups[group].quantified) return true;
  }
  return false;
}

bool AllAscii(re2::StringPiece s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

}  // namespace

std::optional<RelaxedPattern> RelaxPattern(std::string_view pattern) {
  std::vector<Group> groups;
  std::optional<std::vector<Token>> tokens = Tokenize(pattern, groups);
  if (!tokens) return std::nullopt;
  RelaxedPattern out;
  out.group.push_back(0);
  int next_group = 0;
  for (const Token& t : *tokens) {
    const bool relax = t.kind == Token::Kind::kChar && t.quantified() && !t.lazy &&
                       t.max != kNoLimit && t.max > t.min && !InsideRepetition(groups, t.group);
    if (relax) {
      out.bounds.push_back({.group = ++next_group, .max = t.max});
      out.pattern += "((?:";
      out.pattern += pattern.substr(t.begin, t.atom_end - t.begin);
      out.pattern += "){" + std::to_string(t.min) + ",})";
      continue;
    }
    if (t.kind == Token::Kind::kOpen && groups[t.group].capturing)
      out.group.push_back(++next_group);
    out.pattern += pattern.substr(t.begin, t.end - t.begin);
  }
  if (out.bounds.empty()) return std::nullopt;
  return out;
}

std::optional<RelaxedRegex> RelaxedRegex::For(std::string_view pattern, const RE2& regex) {
  if (regex.ProgramSize() <= kMaxBitStateProgram) return std::nullopt;
  std::optional<RelaxedPattern> p = RelaxPattern(pattern);
  if (!p) return std::nullopt;
  RE2::Options opts = regex.options();
  auto re = std::make_shared<const RE2>(p->pattern, opts);
  // The group count checks that the pattern was read as RE2 reads it.
  if (!re->ok() || re->ProgramSize() > kMaxBitStateProgram ||
      re->NumberOfCapturingGroups() !=
          regex.NumberOfCapturingGroups() + static_cast<int>(p->bounds.size()) ||
      static_cast<int>(p->group.size()) != regex.NumberOfCapturingGroups() + 1) {
    return std::nullopt;
  }
  return RelaxedRegex(std::move(*p), std::move(re));
}

bool RelaxedRegex::Groups(re2::StringPiece text, re2::StringPiece span, re2::StringPiece* groups,
                          int n) const {
  if (!AllAscii(span)) return false;
  const int count = re_->NumberOfCapturingGroups() + 1;
  re2::StringPiece found[64];
  if (count > 64 || n > static_cast<int>(pattern_.group.size())) return false;
  const size_t begin = static_cast<size_t>(span.data() - text.data());
  if (!re_->Match(text, begin, begin + span.size(), RE2::ANCHOR_BOTH, found, count)) return false;
  for (const RelaxedPattern::Bound& b : pattern_.bounds) {
    if (found[b.group].data() != nullptr && static_cast<int>(found[b.group].size()) > b.max) {
      return false;
    }
  }
  for (int i = 1; i < n; ++i) groups[i] = found[pattern_.group[static_cast<size_t>(i)]];
  return true;
}

}  // namespace keyhold::scan
