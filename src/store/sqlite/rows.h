// How records map to SQLite columns where the mapping is more than one value per column: JSON
// lists, and the five credit columns. Internal to src/store/sqlite; docs/storage-schema.md
// describes the columns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "store/sqlite/statement.h"

namespace keyhold::store::sqlite {

std::string RatelimitsToJson(const std::vector<RatelimitConfig>& rls);
// Malformed text reads as no ratelimits.
std::vector<RatelimitConfig> RatelimitsFromJson(std::string_view text);

std::string StringsToJson(const std::vector<std::string>& v);
// Malformed text and non-string items read as nothing.
std::vector<std::string> StringsFromJson(std::string_view text);

// The credit columns, in this order wherever they are read or bound together.
inline constexpr const char* kCreditColumns =
    "credits_remaining, refill_interval, refill_amount, refill_day, last_refill_at";

// Reads the credit columns starting at column `first`.
CreditsState ReadCredits(const Stmt& s, int first);
// Binds the credit columns to the parameters starting at `first`.
void BindCredits(Stmt& s, int first, const CreditsState& c);

}  // namespace keyhold::store::sqlite
