#include "store/sqlite/secret_read_cache.h"

namespace keyhold::store::sqlite {
namespace {

size_t SizeOf(const std::string& key, const Store::SecretReadNow& v) {
  // Fixed parts at a generous 512 bytes a record (map node, strings' own storage): the bound
  // is on memory, not exact.
  const SecretRecord& s = v.secret;
  size_t n = 2 * key.size() + 512 + s.path.size() + s.mount.size() + s.custom_metadata_json.size() +
             s.rotation_step.size() + s.rotation_failure.size() + s.versions.size() * 96;
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
  Entry found;
  Map dropped;
  {
    std::lock_guard lock(mu_);
    if (generation > generation_) {
      dropped = ResetLocked(generation);
    } else if (generation == generation_) {
      auto it = entries_.find(key);
      if (it != entries_.end()) found = it->second;
    }
  }
  if (!found) return std::nullopt;
  return *found;
}

void SecretReadCache::Put(const std::string& key, uint64_t generation,
                          const Store::SecretReadNow& value) {
  size_t bytes = SizeOf(key, value);
  if (bytes > kMaxBytes / 4) return;  // one huge secret would empty the cache for nothing
  auto entry = std::make_shared<const Store::SecretReadNow>(value);
  Map dropped;
  std::lock_guard lock(mu_);
  if (generation < generation_) return;
  if (generation > generation_) dropped = ResetLocked(generation);
  if (bytes_ + bytes > kMaxBytes) dropped = ResetLocked(generation);
  auto [it, inserted] = entries_.try_emplace(key, std::move(entry));
  if (inserted) bytes_ += bytes;
}  // `dropped` is freed after the lock is released: it is declared before it

void SecretReadCache::Clear() {
  Map dropped;
  std::lock_guard lock(mu_);
  dropped = ResetLocked(generation_);
}

size_t SecretReadCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

SecretReadCache::Map SecretReadCache::ResetLocked(uint64_t generation) {
  Map dropped;
  dropped.swap(entries_);
  bytes_ = 0;
  generation_ = generation;
  return dropped;
}

}  // namespace keyhold::store::sqlite
