#include "core/permissions.h"

#include <cctype>

#include "core/secret_path.h"

namespace keyhold {
namespace {

bool IsPermissionChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '.' ||
         c == '*' || c == '-';
}

std::vector<std::string_view> Segments(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

}  // namespace

bool IsValidPermission(std::string_view name) {
  if (name.empty() || name.size() > kMaxPermissionLength) return false;
  for (char c : name) {
    if (!IsPermissionChar(c)) return false;
  }
  for (std::string_view seg : Segments(name)) {
    if (seg.empty()) return false;
  }
  return true;
}

// Shared by Matches and Covers: in Covers mode a `*` in `requested` is only covered by `*`.
// Walks both names segment by segment without allocating: it runs on every verification.
static bool SegmentsMatch(std::string_view held, std::string_view wanted, bool covers) {
  size_t h = 0;
  size_t w = 0;
  while (true) {
    size_t h_end = held.find('.', h);
    std::string_view hs =
        held.substr(h, h_end == std::string_view::npos ? std::string_view::npos : h_end - h);
    bool h_last = h_end == std::string_view::npos;
    if (hs == "*" && h_last) return w <= wanted.size();  // trailing * takes one or more segments
    if (w > wanted.size()) return false;
    size_t w_end = wanted.find('.', w);
    std::string_view ws =
        wanted.substr(w, w_end == std::string_view::npos ? std::string_view::npos : w_end - w);
    bool w_last = w_end == std::string_view::npos;
    if (hs != "*") {
      if (covers && ws == "*") return false;
      if (hs != ws) return false;
    }
    if (h_last || w_last) return h_last && w_last;
    h = h_end + 1;
    w = w_end + 1;
  }
}

bool PermissionMatches(std::string_view held, std::string_view wanted) {
  if (held == wanted || held == "*") return true;
  // A secret permission's glob is matched by SecretAccessGranted, not segment by segment.
  if (SplitSecretPermission(held, nullptr, nullptr)) return false;
  return SegmentsMatch(held, wanted, /*covers=*/false);
}

bool PermissionCovers(std::string_view held, std::string_view requested) {
  if (held == requested) return true;
  std::string_view held_cap;
  std::string_view held_glob;
  bool held_secret = SplitSecretPermission(held, &held_cap, &held_glob);
  std::string_view cap;
  std::string_view glob;
  if (SplitSecretPermission(requested, &cap, &glob)) {
    if (held_secret) {
      return (held_cap == "*" || held_cap == cap) && SecretGlobCovers(held_glob, glob);
    }
    // A plain pattern grants its capability on every path.
    return PermissionCovers(held, "secret." + std::string(cap));
  }
  if (held_secret) return false;
  return SegmentsMatch(held, requested, /*covers=*/true);
}

bool AnyPermissionMatches(const std::vector<std::string>& held, std::string_view wanted) {
  for (const std::string& h : held) {
    if (PermissionMatches(h, wanted)) return true;
  }
  return false;
}

struct PermissionQuery::Node {
  enum class Kind { kLeaf, kAnd, kOr } kind = Kind::kLeaf;
  std::string name;
  std::shared_ptr<const Node> left, right;
};

namespace {

using Node = PermissionQuery::Node;

// Recursive descent over: or := and ("OR" and)* ; and := atom ("AND" atom)* ;
// atom := NAME | "(" or ")". Depth is bounded so a hostile query cannot exhaust the stack.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  StatusOr<std::shared_ptr<const Node>> ParseAll() {
    KH_ASSIGN_OR_RETURN(auto root, ParseOr(0));
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected input");
    return root;
  }

 private:
  static constexpr int kMaxDepth = 32;

  Status Error(std::string_view what) const {
    return InvalidArgument("invalid permissions query at position " + std::to_string(pos_) + ": " +
                           std::string(what));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  std::string_view PeekWord() {
    SkipSpace();
    size_t end = pos_;
    while (end < text_.size() && IsPermissionChar(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }
  bool TakeKeyword(std::string_view kw) {
    std::string_view w = PeekWord();
    if (w.size() != kw.size()) return false;
    for (size_t i = 0; i < w.size(); ++i) {
      if (std::toupper(static_cast<unsigned char>(w[i])) != kw[i]) return false;
    }
    pos_ += w.size();
    return true;
  }
  static std::shared_ptr<const Node> Join(Node::Kind kind, std::shared_ptr<const Node> l,
                                          std::shared_ptr<const Node> r) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->left = std::move(l);
    n->right = std::move(r);
    return n;
  }
  StatusOr<std::shared_ptr<const Node>> ParseOr(int depth) {
    KH_ASSIGN_OR_RETURN(auto left, ParseAnd(depth));
    while (TakeKeyword("OR")) {
      KH_ASSIGN_OR_RETURN(auto right, ParseAnd(depth));
      left = Join(Node::Kind::kOr, std::move(left), std::move(right));
    }
    return left;
  }
  StatusOr<std::shared_ptr<const Node>> ParseAnd(int depth) {
    KH_ASSIGN_OR_RETURN(auto left, ParseAtom(depth));
    while (TakeKeyword("AND")) {
      KH_ASSIGN_OR_RETURN(auto right, ParseAtom(depth));
      left = Join(Node::Kind::kAnd, std::move(left), std::move(right));
    }
    return left;
  }
  StatusOr<std::shared_ptr<const Node>> ParseAtom(int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      ++pos_;
      KH_ASSIGN_OR_RETURN(auto inner, ParseOr(depth + 1));
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ')') return Error("expected ')'");
      ++pos_;
      return inner;
    }
    std::string_view word = PeekWord();
    if (word.empty()) return Error("expected a permission");
    if (!IsValidPermission(word)) return Error("malformed permission name");
    pos_ += word.size();
    auto n = std::make_shared<Node>();
    n->name = std::string(word);
    return std::shared_ptr<const Node>(std::move(n));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool EvaluateNode(const Node& n, const std::vector<std::string>& held) {
  switch (n.kind) {
    case Node::Kind::kLeaf:
      return AnyPermissionMatches(held, n.name);
    case Node::Kind::kAnd:
      return EvaluateNode(*n.left, held) && EvaluateNode(*n.right, held);
    case Node::Kind::kOr:
      return EvaluateNode(*n.left, held) || EvaluateNode(*n.right, held);
  }
  return false;
}

}  // namespace

StatusOr<PermissionQuery> PermissionQuery::Parse(std::string_view text) {
  if (text.size() > kMaxQueryLength) return InvalidArgument("permissions query is too long");
  Parser p(text);
  KH_ASSIGN_OR_RETURN(auto root, p.ParseAll());
  return PermissionQuery(std::move(root));
}

bool PermissionQuery::Evaluate(const std::vector<std::string>& held) const {
  return EvaluateNode(*root_, held);
}

}  // namespace keyhold
