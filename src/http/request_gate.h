// RequestGate: lets requests use services that can be taken away while the server runs (the
// secret service and its rotator, which hold key material and go when the server is sealed),
// and lets whoever takes them away wait until no request still uses them.
//
//   RequestGate::Pass pass = gate.Enter();
//   if (!pass) return VaultError(503, "Vault is sealed");
//   ...  // the services stay as they were until `pass` goes
//
//   gate.Close();  // new Enter()s fail; returns once every pass handed out is gone
//   services.reset();
//
// Enter never waits for more than a mutex held for a few instructions, so an I/O thread may call
// it. Close must not be called by a thread that holds a pass (it would wait for itself).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace keyhold::http {

class RequestGate {
 public:
  // While held, the gate's services stay. Move-only; empty when the gate was closed.
  class Pass {
   public:
    Pass() = default;
    Pass(Pass&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Pass& operator=(Pass&& other) noexcept {
      if (this != &other) {
        Leave();
        gate_ = other.gate_;
        other.gate_ = nullptr;
      }
      return *this;
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() { Leave(); }
    explicit operator bool() const { return gate_ != nullptr; }

   private:
    friend class RequestGate;
    explicit Pass(RequestGate* gate) : gate_(gate) {}
    void Leave() {
      if (gate_ != nullptr) gate_->Leave();
      gate_ = nullptr;
    }
    RequestGate* gate_ = nullptr;
  };

  explicit RequestGate(bool open) : open_(open) {}
  RequestGate(const RequestGate&) = delete;
  RequestGate& operator=(const RequestGate&) = delete;

  // A pass, or an empty one while the gate is closed.
  Pass Enter() {
    std::lock_guard lock(mu_);
    if (!open_) return Pass();
    ++inside_;
    return Pass(this);
  }
  // Lets requests in (again).
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
  }
  // Lets no new request in, then waits until every pass handed out is gone.
  void Close() {
    std::unique_lock lock(mu_);
    open_ = false;
    gone_.wait(lock, [&] { return inside_ == 0; });
  }

 private:
  void Leave() {
    std::lock_guard lock(mu_);
    if (--inside_ == 0 && !open_) gone_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable gone_;
  bool open_;           // guarded by mu_
  int64_t inside_ = 0;  // passes handed out and not yet gone; guarded by mu_
};

}  // namespace keyhold::http
