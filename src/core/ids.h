// Identifiers for stored objects: `<kind>_<time><random>`, e.g. `key_0kfX9a2b3C4d5E6f7G8h`.
//
// 8 base62 characters of creation time in ms, then 12 random base62 characters (~71 bits), so
// ids sort by creation time and list pagination by id follows creation order.
#pragma once

#include <string>
#include <string_view>

#include "core/env.h"

namespace keyhold {

std::string NewId(Env& env, std::string_view kind);

// A request id, "req_" and 16 base62 characters: unique within and across processes, not
// unpredictable (a random per-process part drawn once, then a counter), so the CSPRNG is spared on
// every request. Thread-safe.
std::string NewRequestId(Env& env);

// True if `id` is `<kind>_` followed by 1..64 characters of [a-zA-Z0-9].
bool LooksLikeId(std::string_view id, std::string_view kind);

}  // namespace keyhold
