// JSON files, through nlohmann::ordered_json so that members keep their order. The output is
// indented by two spaces, one member per line, whatever the input's layout was.
#include <openssl/crypto.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/json_names.h"
#include "filecrypt/formats.h"

namespace keyhold::filecrypt::internal {
namespace {

using Json = nlohmann::ordered_json;

// One sealed leaf found while walking an encrypted document.
struct Leaf {
  Json* node;
  std::string path;
};

struct Walk {
  const ValueSealer* sealer = nullptr;
  Env* env = nullptr;
  std::vector<SealedEntry> entries;
  std::vector<Leaf> leaves;
  size_t count = 0;
};

// Nesting is bounded before parsing, so neither the parser nor the walks below recurse deeper.
Status CheckDepth(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return Malformed("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return OkStatus();
}

StatusOr<Json> Parse(std::string_view text) {
  KH_RETURN_IF_ERROR(CheckUtf8(text));
  KH_RETURN_IF_ERROR(CheckDepth(text));
  // A member named twice in one object would be read as one of the two, silently: refused.
  if (NamesMemberTwice<Json>(text)) return Malformed("an object names a member twice");
  try {
    Json doc = Json::parse(text.begin(), text.end());
    if (!doc.is_object()) return Malformed("the top level must be an object");
    return doc;
  } catch (const Json::out_of_range&) {
    return Malformed("a number is out of range");
  } catch (const Json::parse_error& e) {
    // e.what() quotes the text near the error, which may be a secret: only the place is told.
    size_t at = std::min(e.byte == 0 ? 0 : e.byte - 1, text.size());
    std::string_view before = text.substr(0, at);
    size_t line = std::count(before.begin(), before.end(), '\n') + 1;
    size_t column =
        at - (before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1) + 1;
    return Malformed("line " + std::to_string(line) + ", column " + std::to_string(column) +
                     ": not valid JSON");
  }
}

std::pair<ValueType, std::string> Plain(const Json& node) {
  if (node.is_string()) return {ValueType::kString, node.get<std::string>()};
  if (node.is_boolean()) return {ValueType::kBool, node.get<bool>() ? "true" : "false"};
  if (node.is_null()) return {ValueType::kNull, ""};
  if (node.is_number_float()) return {ValueType::kFloat, node.dump()};
  return {ValueType::kInt, node.dump()};
}

Status SealNode(Json& node, const std::string& path, Walk& w) {
  if (node.is_structured() && node.empty()) {
    w.entries.push_back({path, node.is_object() ? "{}" : "[]"});
    return OkStatus();
  }
  if (node.is_object()) {
    for (auto& [k, v] : node.items()) KH_RETURN_IF_ERROR(SealNode(v, ChildPath(path, k), w));
    return OkStatus();
  }
  if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i)
      KH_RETURN_IF_ERROR(SealNode(node[i], IndexPath(path, i), w));
    return OkStatus();
  }
  KH_RETURN_IF_ERROR(CountValue(w.count));
  auto [type, plain] = Plain(node);
  std::string token = w.sealer->Seal(path, type, plain, *w.env);
  OPENSSL_cleanse(plain.data(), plain.size());
  w.entries.push_back({path, token});
  node = std::move(token);
  return OkStatus();
}

Status CollectNode(Json& node, const std::string& path, Walk& w) {
  if (node.is_structured() && node.empty()) {
    w.entries.push_back({path, node.is_object() ? "{}" : "[]"});
    return OkStatus();
  }
  if (node.is_object()) {
    for (auto& [k, v] : node.items()) KH_RETURN_IF_ERROR(CollectNode(v, ChildPath(path, k), w));
    return OkStatus();
  }
  if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      KH_RETURN_IF_ERROR(CollectNode(node[i], IndexPath(path, i), w));
    }
    return OkStatus();
  }
  KH_RETURN_IF_ERROR(CountValue(w.count));
  if (!node.is_string() || !LooksSealed(node.get_ref<const std::string&>())) return NotSealed(path);
  w.entries.push_back({path, node.get<std::string>()});
  w.leaves.push_back({&node, path});
  return OkStatus();
}

// The JSON value an opened value stands for.
StatusOr<Json> Restore(const OpenedValue& v, const std::string& path) {
  switch (v.type) {
    case ValueType::kString:
      return Json(v.plaintext);
    case ValueType::kNull:
      return Json(nullptr);
    case ValueType::kBool:
      if (v.plaintext == "true" || v.plaintext == "false") return Json(v.plaintext == "true");
      break;
    case ValueType::kInt:
    case ValueType::kFloat: {
      Json n = Json::parse(v.plaintext, nullptr, false);
      bool ok = v.type == ValueType::kFloat ? n.is_number_float()
                                            : n.is_number_integer() || n.is_number_unsigned();
      if (ok) return n;
      break;
    }
  }
  return Integrity(path + ": the decrypted value does not match its type");
}

StatusOr<FileHeader> ReadHeader(const Json& meta) {
  Status bad = Malformed("the _keyhold metadata is malformed");
  if (!meta.is_object() || meta.size() != 5 || !meta.contains("version") ||
      !meta["version"].is_number_integer() || meta.value("cipher", "") != "AES256_GCM") {
    return bad;
  }
  FileHeader h;
  h.version = meta["version"].get<int>();
  for (auto [name, field] : {std::pair{"salt", &h.salt}, {"key_id", &h.key_id}, {"mac", &h.mac}}) {
    if (!meta.contains(name) || !meta[name].is_string()) return bad;
    *field = meta[name].get<std::string>();
  }
  return h;
}

Json WriteHeader(const FileHeader& h) {
  return Json{{"version", h.version},
              {"cipher", "AES256_GCM"},
              {"salt", h.salt},
              {"key_id", h.key_id},
              {"mac", h.mac}};
}

StatusOr<std::string> Dump(const Json& doc) {
  try {
    return doc.dump(2) + "\n";
  } catch (const Json::exception&) {
    return Malformed("the file holds text that is not valid UTF-8");
  }
}

}  // namespace

StatusOr<std::string> EncryptJson(std::string_view text, const FileKey& key, Env& env) {
  KH_ASSIGN_OR_RETURN(Json doc, Parse(text));
  if (doc.contains(kMetadataKey)) return AlreadyEncrypted();
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  Walk w{.sealer = &sealer, .env = &env};
  KH_RETURN_IF_ERROR(SealNode(doc, "", w));
  doc[std::string(kMetadataKey)] = WriteHeader(sealer.Header("json", w.entries));
  return Dump(doc);
}

StatusOr<std::string> DecryptJson(std::string_view text, const FileKey& key) {
  KH_ASSIGN_OR_RETURN(Json doc, Parse(text));
  if (!doc.contains(kMetadataKey)) return NotEncrypted();
  KH_ASSIGN_OR_RETURN(FileHeader header, ReadHeader(doc[std::string(kMetadataKey)]));
  doc.erase(std::string(kMetadataKey));
  KH_ASSIGN_OR_RETURN(ValueSealer sealer, ValueSealer::ForFile(key, header));
  Walk w;
  KH_RETURN_IF_ERROR(CollectNode(doc, "", w));
  KH_RETURN_IF_ERROR(sealer.VerifyMac("json", w.entries, header.mac));
  for (const Leaf& leaf : w.leaves) {
    KH_ASSIGN_OR_RETURN(OpenedValue v, sealer.Open(leaf.path, leaf.node->get<std::string>()));
    StatusOr<Json> restored = Restore(v, leaf.path);
    OPENSSL_cleanse(v.plaintext.data(), v.plaintext.size());
    if (!restored.ok()) return restored.status();
    *leaf.node = std::move(*restored);
  }
  return Dump(doc);
}

}  // namespace keyhold::filecrypt::internal
