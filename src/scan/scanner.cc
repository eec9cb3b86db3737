// Scanner: one multi-pattern pass to find where secrets may be, then exact confirmation.
#include "scan/scanner.h"

#include <hs/hs.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <span>
#include <unordered_set>

#include "core/key_format.h"
#include "crypto/crypto.h"
#include "scan/db_cache.h"

namespace keyhold::scan {
namespace {

// Shortest keyhold key: a 16-byte body (22 base62 characters) and its 6 check characters.
constexpr size_t kMinKeyholdKey = 28;
// How far past a keyword a multi-line rule's match may reach (a PEM private key of 8192 bits is
// about 6.5 KiB).
constexpr size_t kMultilineReach = 16 * 1024;

constexpr std::array<bool, 256> kWordChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = true;
  t['_'] = true;
  return t;
}();
inline bool IsWordChar(unsigned char c) { return kWordChars[c]; }

std::string EscapeLiteral(std::string_view lit) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : lit) {
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

size_t LineEnd(std::string_view data, size_t pos) {
  if (pos >= data.size()) return data.size();
  const void* nl = std::memchr(data.data() + pos, '\n', data.size() - pos);
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - data.data()) : data.size();
}

// How far from a keyword a single-line rule's match is looked for, either way. A line longer than
// this (minified code, a data URI, an attacker's input) is not searched whole for every keyword
// on it, which would make the scan quadratic in the line's length.
constexpr size_t kLineReach = 4 * 1024;

// The lines around positions that never decrease, as a pass over a buffer meets them: every byte
// is looked at a bounded number of times however long the lines are, so finding the line of each
// of a million hits on one 10 MB line costs one walk over it, not a million.
class LineCursor {
 public:
  explicit LineCursor(std::string_view data) : data_(data) {}

  // Moves to the line holding `pos`, which must not be before the previous call's. Lines are
  // [begin(), end()], end() being the offset of the line's newline or the buffer's size.
  void MoveTo(size_t pos) {
    pos = std::min(pos, data_.size());
    if (started_ && pos < begin_) started_ = false;  // misuse: start again rather than lie
    if (started_ && pos <= end_) return;
    const size_t from = started_ ? end_ + 1 : 0;
    const size_t old_begin = begin_;
    const char* base = data_.data();
    if (const void* nl = pos > from ? memrchr(base + from, '\n', pos - from) : nullptr) {
      const size_t at = static_cast<size_t>(static_cast<const char*>(nl) - base);
      begin_ = at + 1;
      const void* nl2 = at > from ? memrchr(base + from, '\n', at - from) : nullptr;
      previous_begin_ = nl2 ? static_cast<size_t>(static_cast<const char*>(nl2) - base) + 1 : from;
    } else {
      previous_begin_ = started_ ? old_begin : 0;
      begin_ = from;
    }
    end_ = LineEnd(data_, pos);
    started_ = true;
  }
  size_t begin() const { return begin_; }
  size_t end() const { return end_; }
  // Start of the line before this one (this one's start on the first line).
  size_t previous_begin() const { return previous_begin_; }

 private:
  std::string_view data_;
  bool started_ = false;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t previous_begin_ = 0;
};

// The first newline at or after positions that never decrease (the buffer's size if none).
class NewlineCursor {
 public:
  explicit NewlineCursor(std::string_view data) : data_(data) {}
  size_t AtOrAfter(size_t pos) {
    pos = std::min(pos, data_.size());
    if (!started_ || pos > newline_) newline_ = LineEnd(data_, pos);
    started_ = true;
    return newline_;
  }

 private:
  std::string_view data_;
  bool started_ = false;
  size_t newline_ = 0;
};

// The part of the line [line_begin, line_end] that a finding at [begin, end) is judged by: the
// whole line, or on a very long one the kLineReach either side of the finding.
std::string_view LineAround(std::string_view data, size_t line_begin, size_t line_end, size_t begin,
                            size_t end) {
  size_t from = std::max(line_begin, begin > kLineReach ? begin - kLineReach : 0);
  size_t to = std::min(line_end, end + kLineReach);
  return data.substr(from, to - from);
}

std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool AnyMatch(const std::vector<std::shared_ptr<const LazyRegex>>& res, std::string_view text) {
  return std::any_of(res.begin(), res.end(),
                     [&](const auto& re) { return RE2::PartialMatch(text, re->get()); });
}

// True if `text`, lowered, holds one of `words` (lower case).
bool HoldsStopword(const std::vector<std::string>& words, std::string_view text) {
  // Lowered on the stack: this runs for every candidate secret.
  std::array<char, 256> buffer;
  std::string heap;
  std::string_view lower;
  if (text.size() <= buffer.size()) {
    std::transform(text.begin(), text.end(), buffer.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    lower = std::string_view(buffer.data(), text.size());
  } else {
    heap = LowerCopy(text);
    lower = heap;
  }
  return std::any_of(words.begin(), words.end(),
                     [&](const std::string& w) { return lower.find(w) != std::string_view::npos; });
}

// One allowlist applied to the findings of one buffer: what its path and commit criteria say is
// the same for every finding there, so it is worked out once, not once per finding. gitleaks'
// semantics: with OR any given criterion allows the finding; with AND all must.
class AllowlistCheck {
 public:
  // `any_regex`: the allowlist's regexes as one (CombineRegexes), or null to search each.
  AllowlistCheck(const Allowlist& a, const ScanContext& ctx, const RE2* any_regex)
      : list_(&a), any_regex_(any_regex) {
    if (!a.commits.empty()) {
      commit_hit_ = !ctx.commit.empty() &&
                    std::find(a.commits.begin(), a.commits.end(), ctx.commit) != a.commits.end();
    }
    if (!a.paths.empty()) path_hit_ = AnyMatch(a.paths, ctx.path);
  }

  bool Allows(std::string_view secret, std::string_view match, std::string_view line) const {
    const Allowlist& a = *list_;
    bool any = false, all = true, some = false;
    auto criterion = [&](bool hit) {
      some = true;
      any = any || hit;
      all = all && hit;
    };
    if (!a.commits.empty()) criterion(commit_hit_);
    if (!a.paths.empty()) criterion(path_hit_);
    if (!a.regexes.empty()) {
      std::string_view target = a.regex_target == Allowlist::Target::kSecret  ? secret
                                : a.regex_target == Allowlist::Target::kMatch ? match
                                                                              : line;
      criterion(any_regex_ != nullptr ? RE2::PartialMatch(target, *any_regex_)
                                      : AnyMatch(a.regexes, target));
    }
    if (!a.stopwords.empty()) criterion(HoldsStopword(a.stopwords, secret));
    if (!some) return false;
    return a.condition == Allowlist::Condition::kOr ? any : all;
  }

 private:
  const Allowlist* list_;
  const RE2* any_regex_;
  bool commit_hit_ = false;
  bool path_hit_ = false;
};

bool Allows(const Allowlist& a, const ScanContext& ctx, std::string_view secret,
            std::string_view match, std::string_view line) {
  return AllowlistCheck(a, ctx, nullptr).Allows(secret, match, line);
}

// An allowlist's regexes as one alternation, which matches where any of them does: one search of
// the text instead of one per regex. Null for fewer than two, or if the alternation does not
// compile (too large): each is then searched on its own.
std::unique_ptr<const RE2> CombineRegexes(const Allowlist& a) {
  if (a.regexes.size() < 2) return nullptr;
  std::string pattern;
  for (const auto& re : a.regexes) {
    pattern += pattern.empty() ? "(?:" : "|(?:";
    pattern += re->pattern();
    pattern += ')';
  }
  RE2::Options options = a.regexes.front()->get().options();
  options.set_log_errors(false);
  auto combined = std::make_unique<const RE2>(pattern, options);
  if (!combined->ok()) return nullptr;
  return combined;
}

bool InlineAllowed(std::string_view line) {
  return line.find("keyhold:allow") != std::string_view::npos ||
         line.find("gitleaks:allow") != std::string_view::npos;
}

std::string Fingerprint(std::string_view secret) {
  crypto::Sha256Digest d = crypto::Sha256(secret);
  return crypto::HexEncode(std::span<const uint8_t>(d.data(), 16));
}

// Newline positions, computed once per buffer that has findings.
class LineIndex {
 public:
  explicit LineIndex(std::string_view data) {
    const char* p = data.data();
    const char* end = p + data.size();
    while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
      newlines_.push_back(static_cast<size_t>(static_cast<const char*>(nl) - data.data()));
      p = static_cast<const char*>(nl) + 1;
    }
  }
  int64_t LineOf(size_t pos) const {
    return static_cast<int64_t>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) -
                                newlines_.begin()) +
           1;
  }

 private:
  std::vector<size_t> newlines_;
};

// Where the database's hits go. A pattern with an open repeat (a prefilter's value run) reports
// every end position of a long run; the hits of one pattern a short way apart on one line are
// kept as the first and the last of them: every window the others would open lies in the union
// of theirs (the windows grow with the hit's end and stop at the line), so confirming sees the
// same text, while a 10 MB value costs two hits per 2 KiB instead of one per byte.
struct HitSink {
  static constexpr uint64_t kNone = UINT64_MAX;
  static constexpr uint64_t kSpacing = kLineReach / 2;
  std::vector<std::pair<uint32_t, uint64_t>>* hits;
  std::string_view data;
  unsigned last_id = 0;
  uint64_t last_kept = kNone;  // the last hit of last_id kept
  uint64_t pending = kNone;    // the last hit of last_id since, not yet kept

  void Add(unsigned id, uint64_t to) {
    if (id == last_id && last_kept != kNone && to >= last_kept && to - last_kept < kSpacing &&
        to <= data.size() &&
        std::memchr(data.data() + last_kept, '\n', static_cast<size_t>(to - last_kept)) ==
            nullptr) {
      pending = to;
      return;
    }
    Flush();
    hits->emplace_back(id, to);
    last_id = id;
    last_kept = to;
  }
  void Flush() {
    if (pending != kNone) hits->emplace_back(last_id, pending);
    pending = kNone;
  }
};

int OnHit(unsigned id, unsigned long long /*from*/, unsigned long long to, unsigned /*flags*/,
          void* ctx) {
  static_cast<HitSink*>(ctx)->Add(id, to);
  return 0;
}

// A keyhold key outranks a provider's rule, which outranks a generic one. A bare JWT counts as
// generic: a rule that names the token's issuer says more about the same text.
int Rank(const Finding& f) {
  if (f.kind == FindingKind::kKeyholdKey) return 0;
  const std::string& id = f.rule_id();
  return id.starts_with("generic") || id == "jwt" ? 2 : 1;
}

// One secret, one finding: where findings overlap (their `column` holds the secret's offset),
// the best-ranked one stays.
void DropOverlaps(std::vector<Finding>& found) {
  auto before = [](const Finding& a, const Finding& b) {
    return std::tie(a.column, a.rule_id()) < std::tie(b.column, b.rule_id());
  };
  SortMovingOnce(found, before);
  // Compacted in place: a file dense with secrets holds hundreds of thousands of findings, and a
  // second vector of them would only add copies and fresh pages.
  size_t kept = 0;
  for (Finding& f : found) {
    if (kept > 0) {
      Finding& last = found[kept - 1];
      bool overlaps = f.column < last.column + static_cast<int64_t>(last.secret.size());
      if (overlaps) {
        // A keyhold key that is only the tail of a provider's token (GitHub's and npm's tokens
        // end in a CRC32 check, as a bare keyhold key does) belongs to that provider.
        bool tail_of_token =
            f.kind == FindingKind::kKeyholdKey && Rank(last) == 1 && f.column > last.column;
        if (!tail_of_token && Rank(f) < Rank(last)) last = std::move(f);
        continue;
      }
    }
    if (&found[kept] != &f) found[kept] = std::move(f);
    ++kept;
  }
  found.erase(found.begin() + static_cast<std::ptrdiff_t>(kept), found.end());
}

}  // namespace

const Rule& Finding::rule_or_default() const {
  static const Rule kNone;
  return rule ? *rule : kNone;
}

const std::string& Finding::description() const {
  static const std::string kPathRule = "file matched by path rule";
  const Rule& r = rule_or_default();
  return r.description.empty() && !r.regex && r.path ? kPathRule : r.description;
}

std::string Finding::Masked() const {
  if (kind == FindingKind::kKeyholdKey) return key_start + "…";
  size_t shown = std::min<size_t>(4, secret.size() / 4);
  return secret.substr(0, shown) + "…(" + std::to_string(secret.size()) + ")";
}

Scanner::Scratch::Scratch(Scratch&& o) noexcept : hs_(std::exchange(o.hs_, nullptr)) {}
Scanner::Scratch& Scanner::Scratch::operator=(Scratch&& o) noexcept {
  std::swap(hs_, o.hs_);
  return *this;
}
Scanner::Scratch::~Scratch() {
  if (hs_) hs_free_scratch(hs_);
}

Scanner::~Scanner() {
  if (db_) hs_free_database(db_);
}

StatusOr<std::unique_ptr<Scanner>> Scanner::Create(RuleSet rules, std::string cache_dir) {
  std::unique_ptr<Scanner> s(new Scanner());
  s->rules_ = std::move(rules);
  s->cache_dir_ = std::move(cache_dir);
  s->relaxed_ = std::make_unique<Relaxed[]>(s->rules_.rules.size());
  s->allowlist_regexes_ = std::make_unique<AllowlistRegexes[]>(s->rules_.rules.size() + 1);
  KH_RETURN_IF_ERROR(s->Compile());
  return s;
}

Status Scanner::Compile() {
  // Global allowlists that exclude a path whatever its content, as one regex: it runs per file.
  std::string skip;
  for (const Allowlist& a : rules_.allowlists) {
    bool only_paths = a.regexes.empty() && a.stopwords.empty() && a.commits.empty();
    if (a.condition != Allowlist::Condition::kOr && !only_paths) continue;
    for (const auto& p : a.paths) skip += (skip.empty() ? "(?:" : "|(?:") + p->pattern() + ")";
  }
  if (!skip.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    skip_paths_ = std::make_unique<const RE2>(skip, opts);
    if (!skip_paths_->ok())
      return InvalidArgument("cannot combine the path allowlists: " + skip_paths_->error());
  }
  std::vector<uint32_t> regex_candidates;
  for (uint32_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    if (!r.regex) {
      path_rules_.push_back(i);
      continue;
    }
    if (!r.prefilter.empty()) {
      prefilter_rules_.push_back(i);
      continue;
    }
    if (r.keywords.empty()) {
      regex_candidates.push_back(i);
      continue;
    }
    for (const std::string& k : r.keywords) {
      auto it = std::find(keywords_.begin(), keywords_.end(), k);
      if (it == keywords_.end()) {
        keywords_.push_back(k);
        keyword_rules_.emplace_back();
        it = keywords_.end() - 1;
      }
      keyword_rules_[static_cast<size_t>(it - keywords_.begin())].push_back(i);
    }
  }
  // Rules without keywords go into the database as prefilters of their own regex; one it cannot
  // take is searched in full with RE2 instead. `dropped` records which, by position among the
  // candidates, so that a cached database comes with the same split.
  const std::vector<uint32_t> all_candidates = regex_candidates;
  std::vector<uint32_t> dropped;
  CacheKey cache_key;
  while (true) {
    std::vector<std::string> exprs;
    std::vector<unsigned> flags, ids;
    for (const std::string& k : keywords_) {
      exprs.push_back(EscapeLiteral(k));
      flags.push_back(HS_FLAG_CASELESS);
    }
    for (uint32_t rule : prefilter_rules_) {
      exprs.push_back(rules_.rules[rule].prefilter);
      flags.push_back(HS_FLAG_CASELESS);
    }
    for (uint32_t rule : regex_candidates) {
      exprs.push_back(rules_.rules[rule].regex_text);
      flags.push_back(HS_FLAG_PREFILTER | HS_FLAG_ALLOWEMPTY | HS_FLAG_MULTILINE);
    }
    if (exprs.empty()) return OkStatus();  // no rules: keyhold keys only, no database
    if (cache_key.id.empty()) {
      cache_key = DatabaseCacheKey(exprs, flags);
      std::vector<uint32_t> cached_dropped;
      if ((db_ = LoadCachedDatabase(cache_dir_, cache_key, cached_dropped))) {
        std::vector<uint32_t> kept;
        for (uint32_t i = 0; i < regex_candidates.size(); ++i) {
          bool out =
              std::find(cached_dropped.begin(), cached_dropped.end(), i) != cached_dropped.end();
          (out ? full_scan_rules_ : kept).push_back(regex_candidates[i]);
        }
        regex_rules_ = kept;
        return OkStatus();
      }
    }
    std::vector<const char*> ptrs;
    for (uint32_t i = 0; i < exprs.size(); ++i) {
      ptrs.push_back(exprs[i].c_str());
      ids.push_back(i);
    }
    hs_compile_error_t* err = nullptr;
    hs_error_t rc =
        hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                         HS_MODE_BLOCK, nullptr, &db_, &err);
    if (rc == HS_SUCCESS) {
      regex_rules_ = regex_candidates;
      StoreCachedDatabase(cache_dir_, cache_key, db_, dropped);
      return OkStatus();
    }
    int bad = err ? err->expression : -1;
    std::string message = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    const int first_prefilter = static_cast<int>(keywords_.size());
    int first_regex = first_prefilter + static_cast<int>(prefilter_rules_.size());
    if (bad >= first_prefilter && bad < first_regex) {
      return InvalidArgument(
          "rule '" + rules_.rules[prefilter_rules_[static_cast<size_t>(bad - first_prefilter)]].id +
          "': the prefilter cannot be compiled: " + message);
    }
    if (bad < first_regex || bad >= first_regex + static_cast<int>(regex_candidates.size())) {
      return InvalidArgument("cannot build the pattern database: " + message);
    }
    uint32_t rule = regex_candidates[static_cast<size_t>(bad - first_regex)];
    full_scan_rules_.push_back(rule);
    regex_candidates.erase(regex_candidates.begin() + (bad - first_regex));
    dropped.push_back(static_cast<uint32_t>(
        std::find(all_candidates.begin(), all_candidates.end(), rule) - all_candidates.begin()));
  }
}

const RelaxedRegex* Scanner::RelaxedFor(const Rule& rule) const {
  Relaxed& r = relaxed_[static_cast<size_t>(&rule - rules_.rules.data())];
  std::call_once(r.once, [&] { r.regex = RelaxedRegex::For(rule.regex_text, rule.regex->get()); });
  return r.regex ? &*r.regex : nullptr;
}

const std::vector<std::unique_ptr<const RE2>>& Scanner::CombinedRegexes(
    size_t index, const std::vector<Allowlist>& lists) const {
  AllowlistRegexes& r = allowlist_regexes_[index];
  std::call_once(r.once, [&] {
    for (const Allowlist& a : lists) r.combined.push_back(CombineRegexes(a));
  });
  return r.combined;
}

Scanner::Scratch Scanner::NewScratch() const {
  Scratch s;
  if (db_ && hs_alloc_scratch(db_, &s.hs_) != HS_SUCCESS) std::abort();  // out of memory
  return s;
}

std::vector<Finding> Scanner::PathFindings(const ScanContext& ctx) const {
  std::vector<Finding> out;
  for (uint32_t i : path_rules_) {
    const Rule& rule = rules_.rules[i];
    if (!RE2::PartialMatch(ctx.path, rule.path->get())) continue;
    auto allowed = [&](const Allowlist& a) { return Allows(a, ctx, ctx.path, ctx.path, ""); };
    if (std::any_of(rule.allowlists.begin(), rule.allowlists.end(), allowed)) continue;
    if (std::any_of(rules_.allowlists.begin(), rules_.allowlists.end(), allowed)) continue;
    Finding f;
    f.rule = &rule;
    f.path = std::string(ctx.path);
    f.secret = std::string(ctx.path);  // the file is the finding; its path is no secret
    f.fingerprint = Fingerprint(f.secret);
    out.push_back(std::move(f));
  }
  return out;
}

bool Scanner::PathAllowlisted(std::string_view path) const {
  return skip_paths_ && RE2::PartialMatch(path, *skip_paths_);
}

std::vector<Finding> Scanner::Scan(std::string_view data, const ScanContext& ctx,
                                   Scratch& scratch) const {
  std::vector<Finding> out;
  std::vector<std::pair<uint32_t, uint64_t>>& hits = scratch.hits_;
  hits.clear();
  HitSink sink{.hits = &hits, .data = data};
  if (db_)
    hs_scan(db_, data.data(), static_cast<unsigned>(data.size()), 0, scratch.hs_, OnHit, &sink);
  sink.Flush();

  // Windows to confirm, per rule.
  std::vector<std::vector<Window>>& windows = scratch.windows_;
  // Only the rules that had windows are cleared and confirmed: with hundreds of rules, walking
  // all of them for every file costs more than the few that a file's keywords touch.
  std::vector<uint32_t>& touched = scratch.touched_;
  for (uint32_t rule : touched) windows[rule].clear();
  touched.clear();
  windows.resize(rules_.rules.size());
  // A rule's windows come in order of their start, so one that reaches the last is merged into
  // it at once: a keyword repeated all over a line costs one window, not one per repetition.
  auto add = [&](uint32_t rule, Window w) {
    std::vector<Window>& ws = windows[rule];
    if (ws.empty()) {
      touched.push_back(rule);
    } else if (w.begin <= ws.back().end) {
      ws.back().end = std::max(ws.back().end, w.end);
      ws.back().context_end = std::max(ws.back().context_end, w.context_end);
      return;
    }
    ws.push_back(w);
  };
  // The cursors below need the hits in order of their end, as the database reports them.
  auto by_end = [](const auto& a, const auto& b) { return a.second < b.second; };
  if (!std::is_sorted(hits.begin(), hits.end(), by_end)) {
    std::stable_sort(hits.begin(), hits.end(), by_end);
  }
  LineCursor line(data);
  NewlineCursor multiline_end(data);
  const size_t n = data.size();
  for (auto [id, hit_end] : hits) {
    const size_t end = std::min<size_t>(hit_end, n);
    line.MoveTo(end);
    const size_t near_begin = end > kLineReach ? end - kLineReach : 0;
    const size_t first_regex = keywords_.size() + prefilter_rules_.size();
    if (id >= first_regex + regex_rules_.size()) continue;  // not one of this database's
    if (id < first_regex) {
      // A keyword lies inside its rule's match, and a prefilter matches on a finding's line: the
      // match is on that line, or (for a multi-line rule) starts there.
      const size_t begin = std::max(line.begin(), near_begin);
      const Window single{begin, std::min(line.end(), end + kLineReach), line.end()};
      const uint32_t* first = nullptr;
      const uint32_t* last = nullptr;
      if (id < keywords_.size()) {
        first = keyword_rules_[id].data();
        last = first + keyword_rules_[id].size();
      } else {
        first = &prefilter_rules_[id - keywords_.size()];
        last = first + 1;
      }
      for (const uint32_t rule : std::span(first, last)) {
        if (!rules_.rules[rule].multiline) {
          add(rule, single);
          continue;
        }
        const size_t reach = std::min(n, end + kMultilineReach);
        const size_t last_line_end = multiline_end.AtOrAfter(reach);
        add(rule, {begin, std::min(last_line_end, reach + kLineReach), last_line_end});
      }
    } else {
      // A prefiltered rule's match ends here and may begin a line earlier.
      const uint32_t rule = regex_rules_[id - first_regex];
      add(rule, {std::max(line.previous_begin(), near_begin), line.end(), line.end()});
    }
  }
  for (uint32_t rule : full_scan_rules_) add(rule, {0, n, n});
  for (uint32_t rule : touched) ConfirmRule(rules_.rules[rule], windows[rule], data, ctx, out);
  ConfirmKeyholdKeys(data, out);
  if (out.empty()) return out;

  DropOverlaps(out);

  // Where each finding is, and the filters that need its line. Findings are in order of their
  // offset here, so the line cursor moves forward only, and a line's inline allow comment is
  // looked for once however many findings the line holds.
  LineIndex lines(data);
  LineCursor finding_line(data);
  size_t allow_checked_line = SIZE_MAX;
  bool line_allowed = false;
  size_t kept = 0;
  for (Finding& f : out) {
    size_t begin = static_cast<size_t>(f.column);  // byte offset until now
    size_t end = begin + f.secret.size();
    finding_line.MoveTo(begin);
    if (finding_line.begin() != allow_checked_line) {
      allow_checked_line = finding_line.begin();
      line_allowed = InlineAllowed(
          data.substr(finding_line.begin(), finding_line.end() - finding_line.begin()));
    }
    if (line_allowed) continue;
    f.path.assign(ctx.path);
    f.line = lines.LineOf(begin);
    f.end_line = lines.LineOf(end > begin ? end - 1 : begin);
    f.column = static_cast<int64_t>(begin - finding_line.begin()) + 1;
    f.fingerprint = Fingerprint(f.secret);
    if (&out[kept] != &f) out[kept] = std::move(f);
    ++kept;
  }
  // In order of offset, one finding per offset: so also in order of line and column.
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(kept), out.end());
  return out;
}

// Searches each window with the rule's regex. The finding's `column` temporarily holds the
// secret's byte offset in `data`.
void Scanner::ConfirmRule(const Rule& rule, std::vector<Window>& windows, std::string_view data,
                          const ScanContext& ctx, std::vector<Finding>& out) const {
  if (rule.path && !RE2::PartialMatch(ctx.path, rule.path->get())) return;
  std::sort(windows.begin(), windows.end(),
            [](const Window& a, const Window& b) { return a.begin < b.begin; });
  const RE2& regex = rule.regex->get();
  const int groups = regex.NumberOfCapturingGroups();
  // Only the groups the secret is taken from: RE2 finds a match's span with its DFAs, then runs a
  // capturing engine over the span alone, and that engine (the NFA, for a program over 512
  // instructions such as the generic rule's) costs more with each group it tracks; with no group
  // asked for it does not run at all.
  const int wanted = rule.secret_group > 0 ? rule.secret_group + 1 : groups + 1;
  std::vector<re2::StringPiece> g(static_cast<size_t>(groups) + 1);
  // The match's span alone is cheap (RE2's DFAs); where the rule's regex is large, its groups
  // come from the relaxed regex when that can say (relaxed_regex.h), else from RE2 as before.
  const RelaxedRegex* relaxed = wanted > 1 ? RelaxedFor(rule) : nullptr;
  auto next_match = [&](re2::StringPiece text, size_t from, size_t to) {
    if (relaxed == nullptr) {
      return regex.Match(text, from, to, RE2::UNANCHORED, g.data(), wanted);
    }
    if (!regex.Match(text, from, to, RE2::UNANCHORED, g.data(), 1)) return false;
    return relaxed->Groups(text, g[0], g.data(), wanted) ||
           regex.Match(text, from, to, RE2::UNANCHORED, g.data(), wanted);
  };
  std::unordered_set<size_t> seen;
  std::vector<Window> merged;
  for (const Window& w : windows) {
    if (!merged.empty() && w.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, w.end);
      merged.back().context_end = std::max(merged.back().context_end, w.context_end);
    } else {
      merged.push_back(w);
    }
  }
  // The rule's allowlists, then the global ones; set up at the first candidate they judge.
  std::vector<AllowlistCheck> allowlists;
  bool allowlists_ready = false;
  auto add_allowlist_checks = [&](const std::vector<Allowlist>& lists, size_t index) {
    if (lists.empty()) return;
    const auto& combined = CombinedRegexes(index, lists);
    for (size_t i = 0; i < lists.size(); ++i)
      allowlists.emplace_back(lists[i], ctx, combined[i].get());
  };
  // Matches come in order of their offset, so their lines are found by a cursor moving forward.
  LineCursor secret_line(data);
  for (size_t wi = 0; wi < merged.size(); ++wi) {
    const Window& w = merged[wi];
    const size_t end = w.end;
    re2::StringPiece text(data.data(), w.context_end);
    size_t pos = w.begin;
    while (pos < end && next_match(text, pos, end)) {
      size_t m_begin = static_cast<size_t>(g[0].data() - data.data());
      size_t m_end = m_begin + g[0].size();
      pos = m_end > m_begin ? m_end : m_begin + 1;
      re2::StringPiece secret = g[0];
      if (rule.secret_group > 0) {
        secret = g[static_cast<size_t>(rule.secret_group)];
      } else {
        for (int i = 1; i <= groups; ++i) {
          if (!g[static_cast<size_t>(i)].empty()) {
            secret = g[static_cast<size_t>(i)];
            break;
          }
        }
      }
      if (secret.empty()) continue;
      size_t s_begin = static_cast<size_t>(secret.data() - data.data());
      if (!seen.insert(s_begin).second) continue;
      std::string_view secret_view(secret.data(), secret.size());
      double entropy = ShannonEntropy(secret_view);
      if (rule.entropy > 0 && entropy <= rule.entropy) continue;
      if (!Validate(rule.validator, secret_view)) continue;
      std::string_view match(g[0].data(), g[0].size());
      secret_line.MoveTo(s_begin);
      std::string_view line = LineAround(data, secret_line.begin(), secret_line.end(), s_begin,
                                         s_begin + secret_view.size());
      if (!allowlists_ready) {
        add_allowlist_checks(rule.allowlists, static_cast<size_t>(&rule - rules_.rules.data()));
        add_allowlist_checks(rules_.allowlists, rules_.rules.size());
        allowlists_ready = true;
      }
      auto allowed = [&](const AllowlistCheck& a) { return a.Allows(secret_view, match, line); };
      if (std::any_of(allowlists.begin(), allowlists.end(), allowed)) continue;
      // Room for a finding in each window left, at once: a file with a finding on every line
      // would otherwise move each (large) finding to fresh pages a dozen times as the vector grew.
      if (out.size() == out.capacity()) {
        out.reserve(std::max(2 * out.size(), out.size() + merged.size() - wi));
      }
      // Built in its place: a finding is large, and moving one in costs as much as filling it.
      Finding& f = out.emplace_back();
      f.kind = FindingKind::kRule;
      f.rule = &rule;
      f.secret.assign(secret_view);
      f.entropy = entropy;
      f.column = static_cast<int64_t>(s_begin);
    }
  }
}

namespace {

// Bit i set: byte i of the 64 at `p` is a word character.
uint64_t WordMask64(const char* p) {
#if defined(__SSE2__)
  auto in_range = [](__m128i s, char lo, char hi) {  // s: bytes with their top bit flipped
    __m128i above = _mm_cmpgt_epi8(s, _mm_set1_epi8(static_cast<char>((lo - 1) ^ 0x80)));
    __m128i below = _mm_cmplt_epi8(s, _mm_set1_epi8(static_cast<char>((hi + 1) ^ 0x80)));
    return _mm_and_si128(above, below);
  };
  uint64_t mask = 0;
  for (int i = 0; i < 4; ++i) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
    __m128i flip = _mm_set1_epi8(static_cast<char>(0x80));
    __m128i digit = in_range(_mm_xor_si128(v, flip), '0', '9');
    __m128i alpha = in_range(_mm_xor_si128(_mm_or_si128(v, _mm_set1_epi8(0x20)), flip), 'a', 'z');
    __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
    __m128i word = _mm_or_si128(_mm_or_si128(digit, alpha), under);
    mask |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(word))) << (16 * i);
  }
  return mask;
#else
  uint64_t mask = 0;
  for (int i = 0; i < 64; ++i)
    mask |= static_cast<uint64_t>(IsWordChar(static_cast<unsigned char>(p[i]))) << i;
  return mask;
#endif
}

// Bit i set: bits i .. i+27 of `m` are all set (a run long enough for a key starts at i).
uint64_t RunsOfKeyLength(uint64_t m) {
  static_assert(kMinKeyholdKey == 28);
  uint64_t r2 = m & (m >> 1);
  uint64_t r4 = r2 & (r2 >> 2);
  uint64_t r8 = r4 & (r4 >> 4);
  uint64_t r16 = r8 & (r8 >> 8);
  return r16 & (r8 >> 16) & (r4 >> 24);
}

}  // namespace

// A keyhold key is a run of at least kMinKeyholdKey word characters. Word characters are
// classified 64 bytes at a time into a bit mask; only where a run is long enough (inside a block
// or across the boundary with the previous one) is the run measured and its text checked.
void Scanner::ConfirmKeyholdKeys(std::string_view data, std::vector<Finding>& out) const {
  const size_t n = data.size();
  size_t run_end = 0;  // runs already handled end before this
  auto handle = [&](size_t at) {
    if (at < run_end) return;
    auto word = [&](size_t i) { return IsWordChar(static_cast<unsigned char>(data[i])); };
    size_t begin = at;
    while (begin > 0 && word(begin - 1)) --begin;
    size_t end = at;
    while (end < n && word(end)) ++end;
    run_end = end;
    if (end - begin >= kMinKeyholdKey) ConfirmKeyholdToken(data, begin, end, out);
  };
  char tail[64];
  int prev_trailing = 0;  // word characters ending the previous block
  for (size_t base = 0; base < n; base += 64) {
    const char* block = data.data() + base;
    if (n - base < 64) {
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, block, n - base);
      block = tail;
    }
    uint64_t m = WordMask64(block);
    int leading = std::countr_one(m);
    if (leading > 0 && prev_trailing + leading >= static_cast<int>(kMinKeyholdKey)) handle(base);
    prev_trailing = leading == 64 ? prev_trailing + 64 : std::countl_one(m);
    for (uint64_t r = RunsOfKeyLength(m); r != 0;) {
      size_t at = base + static_cast<size_t>(std::countr_zero(r));
      handle(at);
      if (run_end >= base + 64) break;
      r &= ~uint64_t{0} << (run_end - base);  // runs after the one just handled
    }
  }
}

// The key may be the whole token or its tail after an underscore (`MY_VAR_sk_...`).
void Scanner::ConfirmKeyholdToken(std::string_view data, size_t begin, size_t end,
                                  std::vector<Finding>& out) const {
  // Body and check hold no '_': whatever prefix a key has, the token's last '_'-free stretch is
  // at least kMinKeyholdKey long. Long identifiers (MACRO_NAMES_LIKE_THIS) stop here.
  size_t tail = 0;
  while (tail < kMinKeyholdKey && data[end - 1 - tail] != '_') ++tail;
  if (tail < kMinKeyholdKey) return;
  size_t at = begin;
  while (end - at >= kMinKeyholdKey) {
    std::string_view candidate = data.substr(at, end - at);
    auto parsed = ParseKey(candidate);
    if (parsed.ok()) {
      Finding f;
      f.kind = FindingKind::kKeyholdKey;
      f.rule = &KeyholdKeyRule();
      f.secret = std::string(candidate);
      f.key_prefix = std::string(parsed->prefix);
      f.key_start = KeyStart(candidate);
      f.entropy = ShannonEntropy(candidate);
      f.column = static_cast<int64_t>(at);
      out.push_back(std::move(f));
      return;
    }
    size_t underscore = candidate.find('_');
    if (underscore == std::string_view::npos) return;
    at += underscore + 1;
  }
}

}  // namespace keyhold::scan
