#include "store/sqlite/rows.h"

#include <nlohmann/json.hpp>

namespace keyhold::store::sqlite {

using nlohmann::json;

std::string RatelimitsToJson(const std::vector<RatelimitConfig>& rls) {
  json arr = json::array();
  for (const auto& r : rls) {
    arr.push_back({{"id", r.id},
                   {"name", r.name},
                   {"limit", r.limit},
                   {"duration", r.duration_ms},
                   {"autoApply", r.auto_apply}});
  }
  return arr.dump();
}

std::vector<RatelimitConfig> RatelimitsFromJson(std::string_view text) {
  std::vector<RatelimitConfig> out;
  if (text.empty() || text == "[]") return out;  // the common case; loading must stay fast
  json arr = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!arr.is_array()) return out;
  for (const auto& r : arr) {
    out.push_back({r.value("id", ""), r.value("name", ""), r.value("limit", int64_t{0}),
                   r.value("duration", int64_t{0}), r.value("autoApply", false)});
  }
  return out;
}

std::string StringsToJson(const std::vector<std::string>& v) { return json(v).dump(); }

std::vector<std::string> StringsFromJson(std::string_view text) {
  if (text.empty() || text == "[]") return {};  // the common case; loading must stay fast
  json arr = json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> out;
  if (arr.is_array()) {
    for (const auto& s : arr) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
  }
  return out;
}

CreditsState ReadCredits(const Stmt& s, int first) {
  CreditsState c;
  c.remaining = s.OptInt(first);
  if (!s.IsNull(first + 1)) {
    RefillRule r;
    r.interval = s.View(first + 1) == "daily" ? RefillInterval::kDaily : RefillInterval::kMonthly;
    r.amount = s.Int(first + 2);
    r.refill_day = static_cast<int>(s.Int(first + 3));
    c.refill = r;
  }
  c.last_refill_at = s.Int(first + 4);
  return c;
}

void BindCredits(Stmt& s, int first, const CreditsState& c) {
  s.Bind(first, c.remaining);
  if (c.refill) {
    s.Bind(first + 1,
           std::string_view(c.refill->interval == RefillInterval::kDaily ? "daily" : "monthly"));
    s.Bind(first + 2, c.refill->amount);
    s.Bind(first + 3, int64_t{c.refill->refill_day});
  } else {
    s.BindNull(first + 1);
    s.BindNull(first + 2);
    s.BindNull(first + 3);
  }
  s.Bind(first + 4, c.last_refill_at);
}

}  // namespace keyhold::store::sqlite
