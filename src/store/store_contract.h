// The stores the Store contract suites run against (store_contract_test.cc,
// alerts_contract_test.cc and the other *_contract_test.cc), and their common fixture. A new
// implementation joins every suite by adding one line here.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::store {

// What a test may ask of the store it opens.
struct ContractOptions {
  uint64_t change_retention = 0;  // 0: the store's default
};

// How the suite opens the store under test. `dir` is a fresh directory per test; opening again
// with the same `dir` reopens the same store, with everything acknowledged before (the
// durability tests reopen). A server-backed store uses `dir` to name a fresh database or schema.
struct StoreFactory {
  std::string name;
  std::function<StatusOr<std::unique_ptr<Store>>(const std::string& dir, const ContractOptions&)>
      open;
};

inline void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }

// An audit entry as an operation would write it with its change, for the suites that check an
// entry is stored in the same transaction.
inline audit::AuditEntry ContractAuditEntry(const std::string& action, const std::string& target) {
  audit::AuditEntry e;
  e.time_ms = 5;
  e.actor = "key_root";
  e.action = action;
  e.target = target;
  e.outcome = "success";
  e.details_json = "{}";
  return e;
}

inline const std::vector<StoreFactory>& Factories() {
  static const std::vector<StoreFactory> kFactories = {
      {"sqlite",
       [](const std::string& dir, const ContractOptions& o) -> StatusOr<std::unique_ptr<Store>> {
         SqliteOptions options;
         options.sole_writer = true;  // as the server opens it
         if (o.change_retention > 0) options.change_retention = o.change_retention;
         KH_ASSIGN_OR_RETURN(auto s, SqliteStore::Open(dir + "/test.db", options));
         return std::unique_ptr<Store>(std::move(s));
       }},
  };
  return kFactories;
}

// A suite of the contract: each test opens the store under test in a fresh directory of its own.
class StoreContractSuite : public ::testing::TestWithParam<StoreFactory> {
 protected:
  std::unique_ptr<Store> Open() {
    auto s = GetParam().open(dir_.path(), {});
    if (!s.ok()) throw std::runtime_error("cannot open the store: " + s.status().message());
    return std::move(s).value();
  }
  testing::TempDir dir_;
};

}  // namespace keyhold::store
