// FaultyStore: wraps a real Store and fails writes on demand, to test that a failed write
// changes nothing and is reported. Failed writes say what a real store says, with a log detail.
#pragma once

#include <atomic>

#include "store/store.h"

namespace keyhold::testing {

class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& inner) : inner_(inner) {}
  void FailWrites(bool fail) { fail_ = fail; }

  Status Load(store::Snapshot& snap, const KeyVisitor& on_key) override {
    return inner_.Load(snap, on_key);
  }
  Status Apply(const store::WriteBatch& b) override {
    if (fail_) return WriteFailure();
    return inner_.Apply(b);
  }
  StatusOr<store::SpendResult> SpendCredits(const std::string& key_id, int64_t cost,
                                            int64_t now_ms) override {
    if (fail_) return WriteFailure();
    return inner_.SpendCredits(key_id, cost, now_ms);
  }
  StatusOr<CreditsState> AdjustCredits(const std::string& key_id, int64_t delta,
                                       int64_t now_ms) override {
    if (fail_) return WriteFailure();
    return inner_.AdjustCredits(key_id, delta, now_ms);
  }
  Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& t) override {
    return inner_.TouchLastUsed(t);
  }
  StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api, const std::string& after,
                                                const std::string& identity, int limit) override {
    return inner_.ListKeyIds(api, after, identity, limit);
  }
  StatusOr<std::vector<store::Change>> ChangesSince(uint64_t after_seq, int limit) override {
    return inner_.ChangesSince(after_seq, limit);
  }
  StatusOr<uint64_t> LatestChangeSeq() override { return inner_.LatestChangeSeq(); }
  int SchemaVersion() override { return inner_.SchemaVersion(); }

 private:
  static Status WriteFailure() {
    return Unavailable("the store could not be written", "application/store_unavailable")
        .WithLogDetail("injected write failure");
  }

  store::Store& inner_;
  std::atomic<bool> fail_{false};
};

}  // namespace keyhold::testing
