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
// transaction began. The store empties the cache when it counts a change (Clear), and the
// first Find or Put with a newer generation empties it too. So an entry can never outlive a
// change it does not show, whatever changed it through the store.
//
// What is held is what the database holds: metadata, wrapped data keys and ciphertexts. Values
// cannot be opened without the keyring. Bounded by kMaxBytes (emptied when full).
//
// Thread-safe. Entries are copied out, and emptied entries freed, outside the cache's mutex.
#pragma once

#include <cstdint>
#include <memory>
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

  // Drops every entry now (a change was committed), so that nothing of what it changed stays
  // in memory until the next read.
  void Clear();

  size_t size() const;

 private:
  using Entry = std::shared_ptr<const Store::SecretReadNow>;
  using Map = std::unordered_map<std::string, Entry>;
  // Returns the entries dropped, for the caller to free outside mu_.
  Map ResetLocked(uint64_t generation);

  mutable std::mutex mu_;
  uint64_t generation_ = 0;  // guarded by mu_
  size_t bytes_ = 0;         // guarded by mu_
  Map entries_;              // guarded by mu_
};

}  // namespace keyhold::store::sqlite
