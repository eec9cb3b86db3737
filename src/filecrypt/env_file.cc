// .env files: NAME=VALUE lines, optionally `export `-prefixed, values bare, 'single-quoted' or
// "double-quoted" (quoted values may span lines), # comments and blank lines kept as they are.
// A value is sealed exactly as written between its quotes (escapes untouched), so decryption
// gives back the same bytes whatever dialect of .env reads the file.
#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "filecrypt/formats.h"

namespace keyhold::filecrypt::internal {
namespace {

constexpr std::string_view kMetadataPrefix = "# keyhold:";

// One piece of the file: a line kept as it is, or an assignment split around its value.
struct Piece {
  bool is_entry = false;
  std::string text;  // a kept line, with its line ending
  std::string head;  // up to the value: "export NAME="
  std::string name;
  char quote = 0;     // 0, '\'' or '"'
  std::string value;  // as written between the quotes (or bare, trimmed)
  std::string tail;   // after the value: spaces and a comment, with the line ending
  int line = 0;
};

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}
bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string AtLine(int line, std::string_view what) {
  return "line " + std::to_string(line) + ": " + std::string(what);
}

int CountLines(std::string_view s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Where the closing quote of a value opened at `open` is, or npos.
size_t ClosingQuote(std::string_view text, size_t open) {
  char q = text[open];
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (q == '"' && text[i] == '\\') {
      ++i;
    } else if (text[i] == q) {
      return i;
    }
  }
  return std::string_view::npos;
}

// The tail after a quoted value must be blanks, optionally a comment.
bool IsValidTail(std::string_view tail) {
  size_t i = 0;
  while (i < tail.size() && IsBlank(tail[i])) ++i;
  if (i == tail.size() || tail[i] == '#') return true;
  return tail.substr(i) == "\r";
}

// Reads `[export ]NAME=` and the blanks after it from `i`; leaves `i` at the value.
Status ParseHead(std::string_view text, size_t& i, Piece& p) {
  auto skip_blanks = [&] {
    while (i < text.size() && IsBlank(text[i])) ++i;
  };
  skip_blanks();
  if (text.substr(i).starts_with("export") && i + 6 < text.size() && IsBlank(text[i + 6])) {
    i += 6;
    skip_blanks();
  }
  size_t name_start = i;
  if (i >= text.size() || !IsNameStart(text[i])) {
    return Malformed(AtLine(p.line, "expected NAME=VALUE"));
  }
  while (i < text.size() && IsNameChar(text[i])) ++i;
  p.name = std::string(text.substr(name_start, i - name_start));
  skip_blanks();
  if (i >= text.size() || text[i] != '=') return Malformed(AtLine(p.line, "expected NAME=VALUE"));
  ++i;
  skip_blanks();
  return OkStatus();
}

// Reads the value at `i` into `p`; returns where its tail starts.
StatusOr<size_t> ParseValue(std::string_view text, size_t i, Piece& p) {
  if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
    size_t close = ClosingQuote(text, i);
    if (close == std::string_view::npos) {
      return Malformed(AtLine(p.line, p.name + ": the quoted value is never closed"));
    }
    p.quote = text[i];
    p.value = std::string(text.substr(i + 1, close - i - 1));
    return close + 1;
  }
  // A bare value ends at the line's end or at a '#' after a blank; blanks around it are not part
  // of it.
  size_t end = std::min(text.find('\n', i), text.size());
  size_t stop = end;
  for (size_t j = i + 1; j < end; ++j) {
    if (text[j] == '#' && IsBlank(text[j - 1])) {
      stop = j;
      break;
    }
  }
  while (stop > i && (IsBlank(text[stop - 1]) || text[stop - 1] == '\r')) --stop;
  p.value = std::string(text.substr(i, stop - i));
  return stop;
}

// Parses an assignment starting at `pos`; advances `pos` past its line ending.
StatusOr<Piece> ParseEntry(std::string_view text, size_t& pos, int line) {
  Piece p;
  p.is_entry = true;
  p.line = line;
  size_t i = pos;
  KH_RETURN_IF_ERROR(ParseHead(text, i, p));
  p.head = std::string(text.substr(pos, i - pos));
  KH_ASSIGN_OR_RETURN(size_t tail_start, ParseValue(text, i, p));
  size_t end = text.find('\n', tail_start);
  end = end == std::string_view::npos ? text.size() : end + 1;
  p.tail = std::string(text.substr(tail_start, end - tail_start));
  std::string_view tail = p.tail;
  if (tail.ends_with('\n')) tail.remove_suffix(1);
  if (p.quote != 0 && !IsValidTail(tail)) {
    return Malformed(AtLine(line, p.name + ": unexpected text after the closing quote"));
  }
  pos = end;
  return p;
}

StatusOr<std::vector<Piece>> Parse(std::string_view text) {
  std::vector<Piece> pieces;
  size_t pos = 0;
  int line = 1;
  size_t values = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view raw = text.substr(pos, end - pos);
    size_t first = raw.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || raw[first] == '#') {
      pieces.push_back(Piece{.text = std::string(raw), .line = line});
      pos = end;
      ++line;
      continue;
    }
    size_t start = pos;
    KH_ASSIGN_OR_RETURN(Piece p, ParseEntry(text, pos, line));
    KH_RETURN_IF_ERROR(CountValue(values));
    line += CountLines(text.substr(start, pos - start));
    pieces.push_back(std::move(p));
  }
  return pieces;
}

bool IsMetadata(const Piece& p) { return !p.is_entry && p.text.starts_with(kMetadataPrefix); }

std::string Quoted(char quote, std::string_view value) {
  if (quote == 0) return std::string(value);
  return std::string(1, quote) + std::string(value) + std::string(1, quote);
}

std::string MetadataLine(const FileHeader& h) {
  return std::string(kMetadataPrefix) + " version=" + std::to_string(h.version) +
         " salt=" + h.salt + " key_id=" + h.key_id + " mac=" + h.mac + "\n";
}

StatusOr<FileHeader> ParseMetadata(std::string_view line, int line_no) {
  line.remove_prefix(kMetadataPrefix.size());
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  FileHeader h;
  h.version = 0;
  bool has_version = false;
  while (!line.empty()) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    size_t stop = std::min(line.find(' '), line.size());
    std::string_view field = line.substr(0, stop);
    line.remove_prefix(stop);
    size_t eq = field.find('=');
    std::string_view k = field.substr(0, eq);
    std::string v(eq == std::string_view::npos ? "" : field.substr(eq + 1));
    if (k == "version") {
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), h.version);
      has_version = ec == std::errc() && ptr == v.data() + v.size();
    } else if (k == "salt") {
      h.salt = v;
    } else if (k == "key_id") {
      h.key_id = v;
    } else if (k == "mac") {
      h.mac = v;
    } else {
      return Malformed(AtLine(line_no, "unknown field in the keyhold metadata"));
    }
  }
  if (!has_version || h.salt.empty() || h.key_id.empty() || h.mac.empty()) {
    return Malformed(AtLine(line_no, "incomplete keyhold metadata"));
  }
  return h;
}

}  // namespace

StatusOr<std::string> EncryptEnv(std::string_view text, const FileKey& key, Env& env) {
  KH_ASSIGN_OR_RETURN(std::vector<Piece> pieces, Parse(text));
  for (const Piece& p : pieces) {
    if (IsMetadata(p)) return AlreadyEncrypted();
  }
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  std::vector<SealedEntry> entries;
  std::string out;
  for (const Piece& p : pieces) {
    if (!p.is_entry) {
      out += p.text;
      continue;
    }
    std::string token = sealer.Seal(p.name, ValueType::kString, p.value, env);
    entries.push_back({p.name, Quoted(p.quote, token)});
    out += p.head + entries.back().token + p.tail;
  }
  if (!out.empty() && !out.ends_with('\n')) out += '\n';
  out += MetadataLine(sealer.Header("env", entries));
  return out;
}

StatusOr<std::string> DecryptEnv(std::string_view text, const FileKey& key) {
  KH_ASSIGN_OR_RETURN(std::vector<Piece> pieces, Parse(text));
  std::optional<FileHeader> header;
  std::vector<SealedEntry> entries;
  for (const Piece& p : pieces) {
    if (IsMetadata(p)) {
      if (header) return Integrity(AtLine(p.line, "a second keyhold metadata line"));
      KH_ASSIGN_OR_RETURN(header, ParseMetadata(p.text, p.line));
    } else if (p.is_entry) {
      entries.push_back({p.name, Quoted(p.quote, p.value)});
    }
  }
  if (!header) return NotEncrypted();
  KH_ASSIGN_OR_RETURN(ValueSealer sealer, ValueSealer::ForFile(key, *header));
  for (const Piece& p : pieces) {
    if (p.is_entry && !LooksSealed(p.value)) return NotSealed(p.name);
  }
  KH_RETURN_IF_ERROR(sealer.VerifyMac("env", entries, header->mac));
  std::string out;
  for (const Piece& p : pieces) {
    if (IsMetadata(p)) continue;
    if (!p.is_entry) {
      out += p.text;
      continue;
    }
    StatusOr<OpenedValue> v = sealer.Open(p.name, p.value);
    if (!v.ok()) {
      OPENSSL_cleanse(out.data(), out.size());
      return v.status();
    }
    out += p.head + Quoted(p.quote, v->plaintext) + p.tail;
    OPENSSL_cleanse(v->plaintext.data(), v->plaintext.size());
  }
  return out;
}

}  // namespace keyhold::filecrypt::internal
