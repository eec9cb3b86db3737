// Env: the clock and the randomness every piece of business logic uses.
//
// Nothing in keyhold calls now() or a random generator directly; it asks the Env it was given.
// Production uses SystemEnv (crypto/system_env.h: wall clock, OpenSSL's CSPRNG); tests use
// FakeEnv with a clock they move by hand, so expiry, refills and limits are tested without sleep.
//
// Thread-safety: implementations are safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <span>

namespace keyhold {

class Env {
 public:
  virtual ~Env() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual int64_t NowMillis() = 0;
  // Fills `out` with cryptographically secure random bytes. Aborts if the OS generator fails:
  // there is no safe way to continue issuing credentials without randomness.
  virtual void RandomBytes(std::span<uint8_t> out) = 0;
};

}  // namespace keyhold
