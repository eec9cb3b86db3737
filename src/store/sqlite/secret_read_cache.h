// SecretReadCache: secrets as last read from the database (sealed values only, never plaintext),
// kept so that reading the same secret again does not take a database transaction.
//
//   uint64_t generation = store_generation.load(std::memory_order_acquire);
//   if (auto hit = cache.Find(key, generation)) return *hit;
//   ... read it from the database ...
//   cache.Put(key, generation, value);
//
// Validity is by generation: the store counts every committed change to the tables a read
// looks at, and an entry is returned only while the count is still the one read before its
// transaction began. The first Find or Put with a newer generation empties the cache. So an
// entry can never outlive a change it does not show, whatever changed and by which method.
//
// What is held is what the database holds: metadata, wrapped data keys and ciphertexts. Values
// cannot be opened without the keyring. Bounded by kMaxBytes (emptied when full).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/store.h"

namespace keyhold::store::sqlite {

class SecretReadCache {
 public:
  // Bytes of paths, metadata and sealed values held at most (an estimate).
  static constexpr size_t kMaxBytes = size_t{32} << 20;

  // The key of a read of `version` (0: the current one) of mount/path.
  static std::string KeyOf(std::string_view mount, std::string_view path, int64_t version);

  // The entry under `key` if it was put at `generation`; empty if none (or the cache was older:
  // it is emptied then).
  std::optional<Store::SecretReadNow> Find(const std::string& key, uint64_t generation);

  // Keeps `value` under `key` as read at `generation`. Ignored if the cache has already seen a
  // newer generation: the value may be outdated.
  void Put(const std::string& key, uint64_t generation, const Store::SecretReadNow& value);

  size_t size() const;

 private:
  void ResetLocked(uint64_t generation);

  mutable std::mutex mu_;
  uint64_t generation_ = 0;                                        // guarded by mu_
  size_t bytes_ = 0;                                               // guarded by mu_
  std::unordered_map<std::string, Store::SecretReadNow> entries_;  // guarded by mu_
};

}  // namespace keyhold::store::sqlite
