// Rate-limit arithmetic: the generic cell rate algorithm (GCRA), exact in integers.
//
// A limit of `limit` requests per `duration_ms` admits requests as a bucket of `limit` tokens
// refilled continuously at limit/duration: a request of cost c is admitted when c tokens are
// there, and takes them. The whole state is one number, the theoretical arrival time (TAT): the
// moment the bucket will be full again. So:
//  - at most `limit` requests (of cost 1) are admitted at any one instant;
//  - in any window of `duration_ms`, at most 2·limit − 1: a full bucket, then one token every
//    duration/limit;
//  - over a long run, at most `limit` per `duration_ms`.
// `remaining` (tokens left) and `reset_ms` (time until the bucket is full) are exact for it.
//
//   GcraState s;
//   GcraDecision d = Gcra(s, {.limit = 3, .duration_ms = 60'000}, /*cost=*/1, now_ms);
//   if (d.allowed) s = d.state;   // or keep `s` to refuse without spending
//
// Pure: no clock, no locks.
#pragma once

#include <cstdint>

namespace keyhold {

// 128-bit integers (a GCC and Clang extension): times in 1/limit-ms units overflow 64 bits.
__extension__ typedef __int128 GcraSlots;

struct GcraLimit {
  int64_t limit = 0;        // tokens per duration; 0 admits nothing (but cost 0)
  int64_t duration_ms = 0;  // > 0
};

// The state of one limited subject. Time is counted in 1/limit-ms units ("slots"), so one token
// is exactly `duration_ms` slots and nothing is rounded; `limit` records the unit. A default state
// is a full bucket.
struct GcraState {
  GcraSlots tat = 0;  // theoretical arrival time, in slots since the epoch
  int64_t limit = 0;  // the limit `tat` is counted in (0: never used)
};

struct GcraDecision {
  bool allowed = false;
  GcraState state;             // the state after admitting (== the old one when refused)
  int64_t remaining = 0;       // tokens left after this decision, 0..limit
  int64_t reset_ms = 0;        // until the bucket is full again
  int64_t retry_after_ms = 0;  // refused: until the same request would be admitted (-1: never,
                               // its cost exceeds the limit)
};

// Decides a request of `cost` tokens (>= 0) at `now_ms`. A cost of 0 is always admitted and
// changes nothing (it reads the state). A state counted under another limit is carried over by
// the time it stands for.
GcraDecision Gcra(const GcraState& state, GcraLimit limit, int64_t cost, int64_t now_ms);

// `state` with `cost` tokens given back (a request admitted here but refused later), never past a
// full bucket at `now_ms`.
GcraState GcraRefund(const GcraState& state, GcraLimit limit, int64_t cost, int64_t now_ms);

// Whether `state` is a full bucket at `now_ms` (it can be forgotten).
bool GcraIsFull(const GcraState& state, int64_t now_ms);

}  // namespace keyhold
