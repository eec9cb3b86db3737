// YAML files, through yaml-cpp: one document whose top level is a mapping. The output is block
// style, written by yaml-cpp's emitter: comments, anchors and the original quoting style are
// not kept (aliases are written out in full), but every key, its order and every value's type
// are. Scalars are typed by the YAML 1.2 core schema: a plain `5` is an int, a quoted "5" a
// string, and each comes back the same way.
#include <openssl/crypto.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "filecrypt/formats.h"

namespace keyhold::filecrypt::internal {
namespace {

constexpr std::string_view kCoreTag = "tag:yaml.org,2002:";

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), s) != words.end();
}

// Consumes a run of characters `ok` accepts from the front of `s`; returns how many.
template <typename Pred>
size_t Run(std::string_view& s, Pred ok) {
  size_t n = 0;
  while (n < s.size() && ok(static_cast<unsigned char>(s[n]))) ++n;
  s.remove_prefix(n);
  return n;
}

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
bool IsCoreInt(std::string_view s) {
  if (s.starts_with("0o") || s.starts_with("0x")) {
    const bool hex = s[1] == 'x';
    s.remove_prefix(2);
    return !s.empty() &&
           Run(s,
               [hex](unsigned char c) {
                 return hex ? std::isxdigit(c) != 0 : (c >= '0' && c <= '7');
               }) > 0 &&
           s.empty();
  }
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return Run(s, IsDigit) > 0 && s.empty();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
bool IsCoreFloat(std::string_view s) {
  if (IsOneOf(s, {".nan", ".NaN", ".NAN"})) return true;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (IsOneOf(s, {".inf", ".Inf", ".INF"})) return true;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    if (Run(s, IsDigit) == 0) return false;
  } else {
    if (Run(s, IsDigit) == 0) return false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      Run(s, IsDigit);
    }
  }
  if (!s.empty() && (s[0] == 'e' || s[0] == 'E')) {
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
    if (Run(s, IsDigit) == 0) return false;
  }
  return s.empty();
}

// The type a plain (unquoted, untagged) scalar resolves to in the YAML 1.2 core schema.
ValueType ResolvePlain(const std::string& text) {
  std::string_view s = text;
  if (IsOneOf(s, {"true", "True", "TRUE", "false", "False", "FALSE"})) return ValueType::kBool;
  if (IsOneOf(s, {"null", "Null", "NULL", "~", ""})) return ValueType::kNull;
  if (IsCoreInt(s)) return ValueType::kInt;
  if (IsCoreFloat(s)) return ValueType::kFloat;
  return ValueType::kString;
}

StatusOr<ValueType> TypeOf(const YAML::Node& node, const std::string& path) {
  if (node.IsNull()) return ValueType::kNull;
  const std::string& tag = node.Tag();
  if (tag == "!") return ValueType::kString;  // quoted
  if (tag == "?" || tag.empty()) return ResolvePlain(node.Scalar());
  std::string_view name = tag;
  if (name.starts_with(kCoreTag)) {
    name.remove_prefix(kCoreTag.size());
    if (name == "str") return ValueType::kString;
    if (name == "int") return ValueType::kInt;
    if (name == "float") return ValueType::kFloat;
    if (name == "bool") return ValueType::kBool;
    if (name == "null") return ValueType::kNull;
  }
  return Malformed(path + ": tags other than YAML's core types are not supported");
}

// Writes a string so that it reads back as a string with the same text.
void EmitString(YAML::Emitter& out, const std::string& s) {
  bool control = std::any_of(
      s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
  if (s.empty() || control || s.front() == ' ' || s.back() == ' ' ||
      ResolvePlain(s) != ValueType::kString) {
    out << YAML::DoubleQuoted;
  }
  out << s;
}

void EmitKey(YAML::Emitter& out, const YAML::Node& key) {
  out << YAML::Key;
  if (key.Tag() == "!" && ResolvePlain(key.Scalar()) != ValueType::kString) {
    out << YAML::DoubleQuoted;
  }
  out << key.Scalar();
}

Status CountTerminals(const YAML::Node& node, int depth, size_t& count);

// Takes the parser's events and keeps none: only documents are counted.
class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// True if `text` holds more than one document. yaml-cpp 0.7's LoadAll can loop forever on some
// malformed input (each turn yielding another empty document); asking for at most two does not.
bool HasSecondDocument(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentCounter counter;
  return parser.HandleNextDocument(counter) && parser.HandleNextDocument(counter);
}

StatusOr<YAML::Node> Parse(std::string_view text) {
  // yaml-cpp would write malformed bytes back as U+FFFD, changing keys and values.
  KH_RETURN_IF_ERROR(CheckUtf8(text));
  try {
    std::string input(text);
    if (HasSecondDocument(input)) return Malformed("the file must hold exactly one YAML document");
    YAML::Node doc = YAML::Load(input);
    if (!doc.IsMap()) return Malformed("the top level must be a mapping");
    size_t count = 0;
    KH_RETURN_IF_ERROR(CountTerminals(doc, 0, count));
    return doc;
  } catch (const YAML::DeepRecursion& e) {
    return Malformed("line " + std::to_string(e.mark.line + 1) + ": nesting deeper than " +
                     std::to_string(kMaxDepth) + " levels");
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own message describes the syntax problem without quoting the text.
    return Malformed("line " + std::to_string(e.mark.line + 1) + ", column " +
                     std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

// What every walk over a document shares.
struct Walk {
  const ValueSealer* sealer = nullptr;
  Env* env = nullptr;
  std::vector<SealedEntry> entries;
  std::vector<OpenedValue> opened;  // decryption: in walk order
  size_t next = 0;
  size_t count = 0;
  enum class Mode { kSeal, kCollect, kEmit } mode = Mode::kSeal;
};

Status Visit(const YAML::Node& node, const std::string& path, int depth, YAML::Emitter& out,
             Walk& w);

Status VisitLeaf(const YAML::Node& node, const std::string& path, YAML::Emitter& out, Walk& w) {
  KH_RETURN_IF_ERROR(CountValue(w.count));
  if (w.mode == Walk::Mode::kSeal) {
    KH_ASSIGN_OR_RETURN(ValueType type, TypeOf(node, path));
    std::string plain = node.IsNull() ? "" : node.Scalar();
    std::string token = w.sealer->Seal(path, type, plain, *w.env);
    OPENSSL_cleanse(plain.data(), plain.size());
    out << token;
    w.entries.push_back({path, std::move(token)});
    return OkStatus();
  }
  if (w.mode == Walk::Mode::kCollect) {
    if (!node.IsScalar() || !LooksSealed(node.Scalar())) {
      return NotSealed(path);
    }
    w.entries.push_back({path, node.Scalar()});
    return OkStatus();
  }
  const OpenedValue& v = w.opened[w.next++];
  if (v.type == ValueType::kString) {
    EmitString(out, v.plaintext);
  } else if (v.type == ValueType::kNull) {
    out << YAML::Null;
  } else {
    out << v.plaintext;
  }
  return OkStatus();
}

// An empty mapping or sequence: written in flow style, and an entry of its own for the MAC.
void VisitEmpty(const YAML::Node& node, const std::string& path, YAML::Emitter& out, Walk& w) {
  if (w.mode != Walk::Mode::kEmit) w.entries.push_back({path, node.IsMap() ? "{}" : "[]"});
  if (w.mode != Walk::Mode::kCollect) {
    out << YAML::Flow << (node.IsMap() ? YAML::BeginMap : YAML::BeginSeq)
        << (node.IsMap() ? YAML::EndMap : YAML::EndSeq);
  }
}

// `top`: the document's mapping, whose end Finish writes after the metadata.
Status VisitMap(const YAML::Node& node, const std::string& path, int depth, YAML::Emitter& out,
                Walk& w, bool top) {
  bool emit = w.mode != Walk::Mode::kCollect;
  if (emit) out << YAML::BeginMap;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return Malformed(path + ": only scalar keys are supported");
    const std::string& key = kv.first.Scalar();
    if (top && key == kMetadataKey) continue;
    if (emit) {
      EmitKey(out, kv.first);
      out << YAML::Value;
    }
    KH_RETURN_IF_ERROR(Visit(kv.second, ChildPath(path, key), depth + 1, out, w));
  }
  if (emit && !top) out << YAML::EndMap;
  return OkStatus();
}

Status Visit(const YAML::Node& node, const std::string& path, int depth, YAML::Emitter& out,
             Walk& w) {
  if (depth > kMaxDepth) {
    return Malformed("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  if ((node.IsMap() || node.IsSequence()) && node.size() == 0) {
    VisitEmpty(node, path, out, w);
    return OkStatus();
  }
  if (node.IsMap()) return VisitMap(node, path, depth, out, w, false);
  if (node.IsSequence()) {
    bool emit = w.mode != Walk::Mode::kCollect;
    if (emit) out << YAML::BeginSeq;
    for (size_t i = 0; i < node.size(); ++i) {
      KH_RETURN_IF_ERROR(Visit(node[i], IndexPath(path, i), depth + 1, out, w));
    }
    if (emit) out << YAML::EndSeq;
    return OkStatus();
  }
  return VisitLeaf(node, path, out, w);
}

// Aliases make a document's tree larger than its text; it is measured before anything is sealed.
Status CountTerminals(const YAML::Node& node, int depth, size_t& count) {
  if (depth > kMaxDepth) {
    return Malformed("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  if ((node.IsMap() || node.IsSequence()) && node.size() > 0) {
    for (const auto& child : node) {
      const YAML::Node& value = node.IsMap() ? child.second : child;
      KH_RETURN_IF_ERROR(CountTerminals(value, depth + 1, count));
    }
    return OkStatus();
  }
  return CountValue(count);
}

StatusOr<FileHeader> ReadHeader(const YAML::Node& meta) {
  Status bad = Malformed("the _keyhold metadata is malformed");
  try {
    if (!meta.IsMap() || meta.size() != 5 || !meta["cipher"] ||
        meta["cipher"].Scalar() != "AES256_GCM") {
      return bad;
    }
    FileHeader h;
    h.version = meta["version"].as<int>();
    h.salt = meta["salt"].as<std::string>();
    h.key_id = meta["key_id"].as<std::string>();
    h.mac = meta["mac"].as<std::string>();
    return h;
  } catch (const YAML::Exception&) {
    return bad;
  }
}

void WriteHeader(YAML::Emitter& out, const FileHeader& h) {
  out << YAML::Key << std::string(kMetadataKey) << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << h.version;
  out << YAML::Key << "cipher" << YAML::Value << "AES256_GCM";
  out << YAML::Key << "salt" << YAML::Value << h.salt;
  out << YAML::Key << "key_id" << YAML::Value << YAML::DoubleQuoted << h.key_id;
  out << YAML::Key << "mac" << YAML::Value << h.mac;
  out << YAML::EndMap;
}

StatusOr<std::string> Finish(YAML::Emitter& out) {
  out << YAML::EndMap;
  if (!out.good()) return Malformed("the file could not be written as YAML: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace

StatusOr<std::string> EncryptYaml(std::string_view text, const FileKey& key, Env& env) {
  KH_ASSIGN_OR_RETURN(YAML::Node doc, Parse(text));
  if (doc[std::string(kMetadataKey)]) return AlreadyEncrypted();
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  Walk w{.sealer = &sealer, .env = &env};
  YAML::Emitter out;
  KH_RETURN_IF_ERROR(VisitMap(doc, "", 0, out, w, true));
  WriteHeader(out, sealer.Header("yaml", w.entries));
  return Finish(out);
}

StatusOr<std::string> DecryptYaml(std::string_view text, const FileKey& key) {
  KH_ASSIGN_OR_RETURN(YAML::Node doc, Parse(text));
  YAML::Node meta = doc[std::string(kMetadataKey)];
  if (!meta) return NotEncrypted();
  KH_ASSIGN_OR_RETURN(FileHeader header, ReadHeader(meta));
  KH_ASSIGN_OR_RETURN(ValueSealer sealer, ValueSealer::ForFile(key, header));
  Walk w{.sealer = &sealer, .mode = Walk::Mode::kCollect};
  YAML::Emitter unused;
  KH_RETURN_IF_ERROR(VisitMap(doc, "", 0, unused, w, true));
  KH_RETURN_IF_ERROR(sealer.VerifyMac("yaml", w.entries, header.mac));
  for (const SealedEntry& e : w.entries) {
    if (e.token == "{}" || e.token == "[]") continue;
    KH_ASSIGN_OR_RETURN(OpenedValue v, sealer.Open(e.path, e.token));
    w.opened.push_back(std::move(v));
  }
  w.mode = Walk::Mode::kEmit;
  w.count = 0;
  YAML::Emitter out;
  Status emitted = VisitMap(doc, "", 0, out, w, true);
  StatusOr<std::string> result = emitted.ok() ? Finish(out) : StatusOr<std::string>(emitted);
  for (OpenedValue& v : w.opened) OPENSSL_cleanse(v.plaintext.data(), v.plaintext.size());
  return result;
}

}  // namespace keyhold::filecrypt::internal
