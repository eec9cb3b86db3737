#include "audit/chain.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace keyhold::audit {
namespace {

std::vector<AuditEntry> Chain(int n) {
  std::vector<AuditEntry> out;
  ChainHash prev = kGenesis;
  for (int i = 1; i <= n; ++i) {
    AuditEntry e{.seq = i,
                 .time_ms = 1'700'000'000'000 + i,
                 .actor = "key_root",
                 .action = "key.create",
                 .target = "key_" + std::to_string(i),
                 .outcome = "success",
                 .client_ip = "203.0.113.7",
                 .request_id = "req_" + std::to_string(i),
                 .details_json = R"({"name":"n)" + std::to_string(i) + R"("})"};
    e.hash = LinkHash(prev, e);
    prev = e.hash;
    out.push_back(std::move(e));
  }
  return out;
}

TEST(AuditChain, AnUntouchedChainVerifies) {
  auto chain = Chain(10);
  EXPECT_FALSE(VerifyChain(chain, kGenesis, 1).has_value());
  EXPECT_FALSE(VerifyChain(chain, kGenesis, 1, chain.back().hash).has_value());
  // A later part alone verifies from the hash of the entry before it.
  EXPECT_FALSE(VerifyChain(std::span(chain).subspan(4), chain[3].hash, 5).has_value());
}

TEST(AuditChain, AChangedFieldIsFoundAtItsEntry) {
  auto chain = Chain(10);
  chain[6].outcome = "denied";
  auto bad = VerifyChain(chain, kGenesis, 1);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 7);
  EXPECT_EQ(bad->reason, "changed");
  // Recomputing that entry's hash does not help: the next entry no longer fits.
  chain[6].hash = LinkHash(chain[5].hash, chain[6]);
  bad = VerifyChain(chain, kGenesis, 1);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 8);
}

TEST(AuditChain, RemovedReorderedAndInsertedEntriesAreFound) {
  auto removed = Chain(10);
  removed.erase(removed.begin() + 4);
  auto bad = VerifyChain(removed, kGenesis, 1);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 5);

  auto reordered = Chain(10);
  std::swap(reordered[2], reordered[3]);
  bad = VerifyChain(reordered, kGenesis, 1);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 3);

  auto inserted = Chain(10);
  AuditEntry forged = inserted[5];
  forged.target = "key_forged";
  inserted.insert(inserted.begin() + 6, forged);
  bad = VerifyChain(inserted, kGenesis, 1);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 6);
  EXPECT_EQ(bad->reason, "inserted");

  // Renumbering everything after a removal still breaks the hashes.
  auto renumbered = Chain(10);
  renumbered.erase(renumbered.begin() + 4);
  for (size_t i = 4; i < renumbered.size(); ++i) renumbered[i].seq = static_cast<int64_t>(i) + 1;
  bad = VerifyChain(renumbered, kGenesis, 1);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 5);
  EXPECT_EQ(bad->reason, "changed");
}

TEST(AuditChain, TruncationShowsOnlyAgainstACheckpoint) {
  auto chain = Chain(10);
  ChainHash checkpoint = chain.back().hash;
  chain.resize(7);
  EXPECT_FALSE(VerifyChain(chain, kGenesis, 1).has_value());
  auto bad = VerifyChain(chain, kGenesis, 1, checkpoint);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->seq, 8);
}

TEST(AuditChain, EncodingSeparatesFields) {
  AuditEntry a{.seq = 1, .actor = "ab", .action = "c"};
  AuditEntry b{.seq = 1, .actor = "a", .action = "bc"};
  EXPECT_NE(Encode(a), Encode(b));
  EXPECT_NE(LinkHash(kGenesis, a), LinkHash(kGenesis, b));
}

}  // namespace
}  // namespace keyhold::audit
