// FlatIndex: an open-addressing hash table of pointers, each element found by a key that the
// pointed-to object itself holds, so the table stores nothing but the pointers (one word or two
// per slot, no node per element): the key service's index of a million keys costs tens of MB,
// not hundreds.
//
//   struct ById { std::string_view operator()(const Thing* t) const { return t->id; } };
//   FlatIndex<const Thing*, ById, std::hash<std::string_view>> index;
//   index.Insert(&thing);
//   if (const Thing* const* t = index.Find("id_1")) use(**t);
//
// `Ptr` is a nullable pointer type (raw or smart): a null slot is an empty one, so a null pointer
// cannot be inserted. `KeyOf(ptr)` returns the element's key; `Hash(key)` must spread its bits
// over all 64 (a slot is picked from the high bits of hash × capacity). Linear probing, at most
// 80% full; erasing shifts the following run back, so there are no tombstones and a lookup never
// walks further than the run of its slot.
//
// Not thread-safe: callers serialize writers against readers (KeyServiceImpl's mu_). A pointer
// returned by Find is valid until the next Insert, Erase or Reserve.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace keyhold::service {

namespace flat_index_internal {
__extension__ typedef unsigned __int128 Wide;  // NOLINT(modernize-use-using): __extension__
}  // namespace flat_index_internal

template <typename Ptr, typename KeyOf, typename Hash>
class FlatIndex {
 public:
  FlatIndex() = default;
  FlatIndex(const FlatIndex&) = delete;
  FlatIndex& operator=(const FlatIndex&) = delete;

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  // The element whose key equals `key`, or null.
  template <typename K>
  const Ptr* Find(const K& key) const {
    if (size_ == 0) return nullptr;
    for (size_t i = Home(Hash{}(key));; i = Next(i)) {
      const Ptr& slot = slots_[i];
      if (slot == nullptr) return nullptr;
      if (KeyOf{}(slot) == key) return &slot;
    }
  }

  // Adds `p`, or replaces the element with its key. Returns the element replaced (null if none).
  // REQUIRES: p is not null.
  Ptr Insert(Ptr p) {
    if ((size_ + 1) * 5 > capacity_ * 4) Rehash(capacity_ < 8 ? 16 : capacity_ * 2);
    const auto& key = KeyOf{}(p);
    for (size_t i = Home(Hash{}(key));; i = Next(i)) {
      Ptr& slot = slots_[i];
      if (slot == nullptr) {
        slot = std::move(p);
        ++size_;
        return Ptr();
      }
      if (KeyOf{}(slot) == key) return std::exchange(slot, std::move(p));
    }
  }

  // Adds the `n` elements at `ps` (moved from), none of which shares its key with another of them
  // or with an element held: a bulk load from a source whose keys are unique. No key is compared,
  // and each element's slot is fetched a few elements ahead, so that the cache misses of a large
  // load overlap instead of following one another. REQUIRES: no element of ps is null; keys unique.
  void InsertNew(Ptr* ps, size_t n) {
    if ((size_ + n) * 5 > capacity_ * 4) {
      size_t want = size_ + n;
      Rehash(std::max<size_t>({want + want / 4 + 1, 16, capacity_ * 2}));
    }
    constexpr size_t kAhead = 8;
    std::array<size_t, kAhead> homes{};
    for (size_t i = 0; i < n + kAhead; ++i) {
      if (i >= kAhead) {  // place element i - kAhead, whose slot was fetched kAhead steps ago
        size_t slot = homes[i % kAhead];
        while (slots_[slot] != nullptr) slot = Next(slot);
        slots_[slot] = std::move(ps[i - kAhead]);
        ++size_;
      }
      if (i < n) {
        size_t home = Home(Hash{}(KeyOf{}(ps[i])));
        __builtin_prefetch(&slots_[home], 1);
        homes[i % kAhead] = home;
      }
    }
  }

  // Removes the element with key `key` and returns it (null if there was none).
  template <typename K>
  Ptr Erase(const K& key) {
    if (size_ == 0) return Ptr();
    size_t hole = Home(Hash{}(key));
    for (;; hole = Next(hole)) {
      if (slots_[hole] == nullptr) return Ptr();
      if (KeyOf{}(slots_[hole]) == key) break;
    }
    Ptr removed = std::move(slots_[hole]);
    slots_[hole] = Ptr();
    --size_;
    // Shift back every element of the run after the hole that may live in it: one whose home is
    // not cyclically within (hole, j].
    for (size_t j = Next(hole); slots_[j] != nullptr; j = Next(j)) {
      size_t home = Home(Hash{}(KeyOf{}(slots_[j])));
      bool stays = hole < j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      slots_[hole] = std::move(slots_[j]);
      slots_[j] = Ptr();
      hole = j;
    }
    return removed;
  }

  // Makes room for `n` elements without growing again (at least doubling, so that reserving
  // one more at a time costs amortized constant time), or shrinks to fit the elements held (and
  // `n`) when the table is more than twice that.
  void Reserve(size_t n) {
    size_t want = std::max(n, size_);
    size_t cap = want + want / 4 + 1;
    if (cap > capacity_) {
      Rehash(std::max<size_t>({cap, 16, capacity_ * 2}));
    } else if (capacity_ > 2 * cap + 16) {
      Rehash(cap < 16 ? 16 : cap);
    }
  }

  // Calls f(ptr) for every element, in no particular order. `f` must not change the table.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i] != nullptr) f(slots_[i]);
    }
  }

 private:
  size_t Home(uint64_t h) const {
    return static_cast<size_t>((static_cast<flat_index_internal::Wide>(h) * capacity_) >> 64);
  }
  size_t Next(size_t i) const { return i + 1 == capacity_ ? 0 : i + 1; }

  void Rehash(size_t capacity) {
    std::unique_ptr<Ptr[]> old = std::move(slots_);
    size_t old_capacity = capacity_;
    slots_ = std::make_unique<Ptr[]>(capacity);
    capacity_ = capacity;
    for (size_t i = 0; i < old_capacity; ++i) {
      if (old[i] == nullptr) continue;
      size_t j = Home(Hash{}(KeyOf{}(old[i])));
      while (slots_[j] != nullptr) j = Next(j);
      slots_[j] = std::move(old[i]);
    }
  }

  std::unique_ptr<Ptr[]> slots_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace keyhold::service
