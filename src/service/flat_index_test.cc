#include "service/flat_index.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace keyhold::service {
namespace {

struct Item {
  uint64_t key;
  int value;
};

struct KeyOfItem {
  uint64_t operator()(const std::shared_ptr<const Item>& i) const { return i->key; }
};
// The identity: the test picks the keys' high bits to choose their slots.
struct Identity {
  uint64_t operator()(uint64_t k) const { return k; }
};
using Index = FlatIndex<std::shared_ptr<const Item>, KeyOfItem, Identity>;

std::shared_ptr<const Item> MakeItem(uint64_t key, int value) {
  return std::make_shared<const Item>(Item{key, value});
}

TEST(FlatIndexTest, EmptyFindsNothing) {
  Index index;
  EXPECT_EQ(index.Find(uint64_t{7}), nullptr);
  EXPECT_EQ(index.Erase(uint64_t{7}), nullptr);
  EXPECT_EQ(index.size(), 0u);
}

TEST(FlatIndexTest, InsertFindReplaceErase) {
  Index index;
  EXPECT_EQ(index.Insert(MakeItem(1, 10)), nullptr);
  EXPECT_EQ(index.Insert(MakeItem(2, 20)), nullptr);
  ASSERT_NE(index.Find(uint64_t{1}), nullptr);
  EXPECT_EQ((*index.Find(uint64_t{1}))->value, 10);
  auto replaced = index.Insert(MakeItem(1, 11));
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(replaced->value, 10);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ((*index.Find(uint64_t{1}))->value, 11);
  auto erased = index.Erase(uint64_t{1});
  ASSERT_NE(erased, nullptr);
  EXPECT_EQ(erased->value, 11);
  EXPECT_EQ(index.Find(uint64_t{1}), nullptr);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ((*index.Find(uint64_t{2}))->value, 20);
}

// Keys whose high bits are equal all want the same slot: they form one run, and erasing any of
// them must leave the rest of the run findable (no lost element behind a hole).
TEST(FlatIndexTest, CollidingKeysSurviveErasesAnywhereInTheirRun) {
  for (int victim = 0; victim < 6; ++victim) {
    Index index;
    index.Reserve(8);
    for (int i = 0; i < 6; ++i) index.Insert(MakeItem(static_cast<uint64_t>(i), i));  // home 0
    ASSERT_NE(index.Erase(static_cast<uint64_t>(victim)), nullptr);
    for (int i = 0; i < 6; ++i) {
      const auto* found = index.Find(static_cast<uint64_t>(i));
      if (i == victim) {
        EXPECT_EQ(found, nullptr);
      } else {
        ASSERT_NE(found, nullptr) << "victim " << victim << " lost " << i;
        EXPECT_EQ((*found)->value, i);
      }
    }
  }
}

// A run that wraps from the last slot to the first: erasing must shift across the end too.
TEST(FlatIndexTest, RunsWrapAroundTheEnd) {
  Index index;
  index.Reserve(12);
  size_t cap = index.capacity();
  const uint64_t last_home = ~uint64_t{0};  // high bits: the last slot
  std::vector<uint64_t> keys;
  for (uint64_t i = 0; i < 4; ++i) keys.push_back(last_home - i);  // all home at cap - 1
  keys.push_back(0);                                               // home 0, after the wrap
  for (size_t i = 0; i < keys.size(); ++i) index.Insert(MakeItem(keys[i], static_cast<int>(i)));
  EXPECT_EQ(index.capacity(), cap);
  ASSERT_NE(index.Erase(keys[0]), nullptr);
  ASSERT_NE(index.Erase(keys[4]), nullptr);
  for (size_t i = 1; i < 4; ++i) {
    ASSERT_NE(index.Find(keys[i]), nullptr) << i;
    EXPECT_EQ((*index.Find(keys[i]))->value, static_cast<int>(i));
  }
  EXPECT_EQ(index.Find(keys[0]), nullptr);
  EXPECT_EQ(index.Find(keys[4]), nullptr);
}

TEST(FlatIndexTest, GrowsKeepingEveryElementAndStaysUnderFourFifths) {
  Index index;
  std::mt19937_64 rng(42);
  std::vector<uint64_t> keys;
  for (int i = 0; i < 50'000; ++i) {
    keys.push_back(rng());
    index.Insert(MakeItem(keys.back(), i));
    ASSERT_LE(index.size() * 5, index.capacity() * 4);
  }
  EXPECT_EQ(index.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto* found = index.Find(keys[i]);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ((*found)->value, static_cast<int>(i));
  }
  size_t visited = 0;
  index.ForEach([&](const std::shared_ptr<const Item>&) { ++visited; });
  EXPECT_EQ(visited, keys.size());
}

// InsertNew places each element of a batch in a slot fetched a few elements earlier: batches
// shorter and longer than that distance, runs of keys sharing one home, and batches that make the
// table grow must all leave every element findable and erasable.
TEST(FlatIndexTest, InsertNewKeepsEveryElementOfBatchesOfAnySize) {
  std::mt19937_64 rng(7);
  for (size_t batch : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{1000}}) {
    Index index;
    std::vector<uint64_t> keys;
    for (int round = 0; round < 3; ++round) {
      std::vector<std::shared_ptr<const Item>> items;
      for (size_t i = 0; i < batch; ++i) {
        // Every third key shares its high bits (its home) with the one before it.
        uint64_t key = i % 3 == 2 ? keys.back() + 1 : rng();
        keys.push_back(key);
        items.push_back(MakeItem(key, static_cast<int>(keys.size() - 1)));
      }
      index.InsertNew(items.data(), items.size());
      index.Insert(MakeItem(rng(), -1));  // one by one between batches, as a live index is
      ASSERT_LE(index.size() * 5, index.capacity() * 4);
    }
    EXPECT_EQ(index.size(), keys.size() + 3) << batch;
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto* found = index.Find(keys[i]);
      ASSERT_NE(found, nullptr) << "batch " << batch << " lost " << i;
      EXPECT_EQ((*found)->value, static_cast<int>(i));
    }
    for (size_t i = 0; i < keys.size(); i += 2) ASSERT_NE(index.Erase(keys[i]), nullptr);
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(index.Find(keys[i]) != nullptr, i % 2 == 1) << "batch " << batch << " key " << i;
    }
  }
}

TEST(FlatIndexTest, ReserveAvoidsGrowthAndShrinksToFit) {
  Index index;
  index.Reserve(1000);
  size_t cap = index.capacity();
  EXPECT_GE(cap * 4, 1000u * 5);
  for (uint64_t i = 0; i < 1000; ++i) index.Insert(MakeItem(i * 0x9E3779B97F4A7C15ULL, 0));
  EXPECT_EQ(index.capacity(), cap);
  for (uint64_t i = 10; i < 1000; ++i) index.Erase(i * 0x9E3779B97F4A7C15ULL);
  index.Reserve(index.size());
  EXPECT_LT(index.capacity(), cap / 4);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_NE(index.Find(i * 0x9E3779B97F4A7C15ULL), nullptr);
}

// Reserving one more element at a time (a key created at a time) grows the table by doubling,
// not by rehashing on every call.
TEST(FlatIndexTest, ReservingOneMoreAtATimeGrowsGeometrically) {
  Index index;
  index.Reserve(1000);
  for (uint64_t i = 0; i < 1000; ++i) index.Insert(MakeItem(i * 0x9E3779B97F4A7C15ULL, 0));
  int growths = 0;
  size_t cap = index.capacity();
  for (uint64_t i = 1000; i < 20000; ++i) {
    index.Reserve(index.size() + 1);
    index.Insert(MakeItem(i * 0x9E3779B97F4A7C15ULL, 0));
    if (index.capacity() != cap) ++growths;
    cap = index.capacity();
  }
  EXPECT_LE(growths, 6);
  EXPECT_EQ(index.size(), 20000u);
}

// Random inserts, replacements and erases checked against std::map, with keys crowded into few
// homes so that runs are long and erases shift often.
TEST(FlatIndexTest, MatchesAMapUnderRandomChurn) {
  Index index;
  std::map<uint64_t, int> model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200'000; ++step) {
    uint64_t key = (rng() % 512) << 52 | (rng() % 4);  // 2048 keys, 512 distinct high parts
    switch (rng() % 3) {
      case 0:
      case 1: {
        auto old = index.Insert(MakeItem(key, step));
        auto it = model.find(key);
        ASSERT_EQ(old != nullptr, it != model.end());
        if (old) {
          EXPECT_EQ(old->value, it->second);
        }
        model[key] = step;
        break;
      }
      default: {
        auto old = index.Erase(key);
        auto it = model.find(key);
        ASSERT_EQ(old != nullptr, it != model.end());
        if (it != model.end()) model.erase(it);
      }
    }
    ASSERT_EQ(index.size(), model.size());
  }
  for (const auto& [key, value] : model) {
    const auto* found = index.Find(key);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ((*found)->value, value);
  }
}

struct ById {
  std::string_view operator()(const std::string* s) const { return *s; }
};

TEST(FlatIndexTest, RawPointersKeyedByStringViews) {
  std::vector<std::unique_ptr<std::string>> owned;
  FlatIndex<const std::string*, ById, std::hash<std::string_view>> index;
  for (int i = 0; i < 1000; ++i) {
    owned.push_back(std::make_unique<std::string>("key_" + std::to_string(i)));
    index.Insert(owned.back().get());
  }
  const std::string* const* found = index.Find(std::string_view("key_500"));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, owned[500].get());
  EXPECT_EQ(index.Find(std::string_view("key_1000")), nullptr);
  EXPECT_EQ(index.Erase(std::string_view("key_500")), owned[500].get());
  EXPECT_EQ(index.Find(std::string_view("key_500")), nullptr);
}

}  // namespace
}  // namespace keyhold::service
