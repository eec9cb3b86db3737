// A cache of compiled Vectorscan databases on disk. Compiling the database of several hundred
// keywords takes longer than scanning a small repository (a pre-commit hook's usual work), so
// the compiled form is kept, keyed by a hash of everything that goes into it.
//
//   CacheKey key = DatabaseCacheKey(exprs, flags);
//   hs_database_t* db = LoadCachedDatabase(dir, key, dropped);   // null: compile, then
//   StoreCachedDatabase(dir, key, db, dropped);
//
// An entry is used only if it is a regular file owned by this user and writable by no one else,
// and its content matches the digest stored with it; anything else is a miss. Failures to
// write are ignored: the cache only saves time.
#pragma once

#include <hs/hs.h>

#include <cstdint>
#include <string>
#include <vector>

namespace keyhold::scan {

// The cache directory: $KEYHOLD_CACHE_DIR, else $XDG_CACHE_HOME/keyhold, else
// $HOME/.cache/keyhold; empty (no cache) if none is set or KEYHOLD_CACHE_DIR is "off".
std::string DefaultCacheDir();

// What a database is built from: Vectorscan's version, this CPU's features, and each expression
// with its flags, each length-prefixed so that no two lists encode alike (`material`); `id`, a
// hex 128-bit digest of it, names the entry. The digest is not collision-resistant, so an entry
// holds the whole material and is used only when it is byte for byte the same: rules from a
// repository scanned earlier can never stand in for others.
struct CacheKey {
  std::string id;
  std::string material;
};
CacheKey DatabaseCacheKey(const std::vector<std::string>& exprs,
                          const std::vector<unsigned>& flags);

// The database stored under `key`, or null. `dropped` receives the positions of the
// expressions the stored build left out (see Scanner::Compile).
hs_database_t* LoadCachedDatabase(const std::string& dir, const CacheKey& key,
                                  std::vector<uint32_t>& dropped);

void StoreCachedDatabase(const std::string& dir, const CacheKey& key, const hs_database_t* db,
                         const std::vector<uint32_t>& dropped);

}  // namespace keyhold::scan
