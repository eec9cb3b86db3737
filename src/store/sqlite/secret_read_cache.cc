#include "store/sqlite/secret_read_cache.h"

namespace keyhold::store::sqlite {
namespace {

size_t SizeOf(const std::string& key, const Store::SecretReadNow& v) {
  // Fixed parts at a generous 256 bytes a record: the bound is on memory, not exact.
  size_t n = key.size() + 256 + v.secret.path.size() + v.secret.mount.size() +
             v.secret.custom_metadata_json.size() + v.secret.versions.size() * 96;
  if (v.version) n += 256 + v.version->wrapped_key.size() + v.version->ciphertext.size();
  return n;
}

}  // namespace

std::string SecretReadCache::KeyOf(std::string_view mount, std::string_view path, int64_t version) {
  // Mount names hold no '\n' (IsValidMountName), so the key is unambiguous.
  std::string key;
  key.reserve(mount.size() + path.size() + 24);
  key.append(mount).push_back('\n');
  key.append(std::to_string(version)).push_back('\n');
  key.append(path);
  return key;
}

std::optional<Store::SecretReadNow> SecretReadCache::Find(const std::string& key,
                                                          uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_) {
    if (generation > generation_) ResetLocked(generation);
    return std::nullopt;
  }
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void SecretReadCache::Put(const std::string& key, uint64_t generation,
                          const Store::SecretReadNow& value) {
  std::lock_guard lock(mu_);
  if (generation < generation_) return;
  if (generation > generation_) ResetLocked(generation);
  size_t bytes = SizeOf(key, value);
  if (bytes > kMaxBytes / 4) return;  // one huge secret would empty the cache for nothing
  if (bytes_ + bytes > kMaxBytes) ResetLocked(generation);
  auto [it, inserted] = entries_.try_emplace(key, value);
  if (inserted) bytes_ += bytes;
}

size_t SecretReadCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void SecretReadCache::ResetLocked(uint64_t generation) {
  entries_.clear();
  bytes_ = 0;
  generation_ = generation;
}

}  // namespace keyhold::store::sqlite
