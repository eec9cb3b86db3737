#include "store/sqlite/secret_read_cache.h"

#include <gtest/gtest.h>

namespace keyhold::store::sqlite {
namespace {

Store::SecretReadNow Read(int64_t current, size_t value_bytes = 16) {
  Store::SecretReadNow r;
  r.secret.mount = "secret";
  r.secret.path = "app";
  r.secret.current_version = current;
  r.version = SecretVersionRecord{};
  r.version->version = current;
  r.version->ciphertext.assign(value_bytes, 7);
  return r;
}

TEST(SecretReadCache, KeysTellMountVersionAndPathApart) {
  EXPECT_NE(SecretReadCache::KeyOf("a", "b", 0), SecretReadCache::KeyOf("a", "b", 1));
  EXPECT_NE(SecretReadCache::KeyOf("a", "b/c", 0), SecretReadCache::KeyOf("a/b", "c", 0));
  EXPECT_NE(SecretReadCache::KeyOf("a", "1\nb", 0), SecretReadCache::KeyOf("a", "b", 1));
}

TEST(SecretReadCache, AnEntryIsFoundOnlyAtItsGeneration) {
  SecretReadCache cache;
  const std::string key = SecretReadCache::KeyOf("secret", "app", 0);
  EXPECT_FALSE(cache.Find(key, 0));
  cache.Put(key, 0, Read(1));
  auto hit = cache.Find(key, 0);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->secret.current_version, 1);
  // A change was committed: nothing kept before it is found again, even at the old generation.
  EXPECT_FALSE(cache.Find(key, 1));
  EXPECT_FALSE(cache.Find(key, 0));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SecretReadCache, AReadOlderThanTheCacheIsNotKept) {
  SecretReadCache cache;
  const std::string key = SecretReadCache::KeyOf("secret", "app", 0);
  EXPECT_FALSE(cache.Find(key, 5));
  cache.Put(key, 4, Read(1));  // began before the change the cache has seen: may be outdated
  EXPECT_FALSE(cache.Find(key, 5));
  EXPECT_FALSE(cache.Find(key, 4));
  cache.Put(key, 6, Read(2));  // newer than the cache: it is emptied, then keeps this one
  ASSERT_TRUE(cache.Find(key, 6));
  EXPECT_EQ(cache.Find(key, 6)->secret.current_version, 2);
}

TEST(SecretReadCache, ItIsBoundedInBytes) {
  SecretReadCache cache;
  const size_t value = 64 * 1024;
  const size_t fits = SecretReadCache::kMaxBytes / value;
  for (size_t i = 0; i < 2 * fits; ++i) {
    cache.Put(SecretReadCache::KeyOf("secret", "s" + std::to_string(i), 0), 0, Read(1, value));
    EXPECT_LE(cache.size(), fits);
  }
  EXPECT_GT(cache.size(), 0u);
  // One value too large for a quarter of the cache is not kept at all.
  cache.Put("big", 0, Read(1, SecretReadCache::kMaxBytes / 2));
  EXPECT_FALSE(cache.Find("big", 0));
  EXPECT_GT(cache.size(), 0u);
}

}  // namespace
}  // namespace keyhold::store::sqlite
