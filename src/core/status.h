// Status and StatusOr<T>: keyhold's one error type.
//
// Every operation a request can reach returns a Status (or a StatusOr<T>). The code says what
// class of failure happened and maps one-to-one to an HTTP status; `reason` names the precise
// error (e.g. "authentication/missing") and becomes part of the wire error's `type`.
//
//   StatusOr<Key> k = service.GetKey(id);
//   if (!k.ok()) return k.status();
//
// Messages are shown to API callers: they never contain key or secret material, nor anything
// about keyhold's insides (engine error text, file names). What an operator needs to find the
// cause travels beside the message as a log detail that is never sent:
//
//   return Unavailable("the store could not be written", "application/store_unavailable")
//       .WithLogDetail(std::string("commit: ") + sqlite3_errmsg(db));
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace keyhold {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,     // 400
  kUnauthenticated,     // 401
  kPermissionDenied,    // 403
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kFailedPrecondition,  // 412
  kPayloadTooLarge,     // 413
  kResourceExhausted,   // 429
  kInternal,            // 500
  kUnavailable,         // 503
};

// HTTP status for a code (200 for kOk).
int HttpStatusFor(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Stable machine-readable name of the error, "category/name".
  const std::string& reason() const { return reason_; }
  // Human-readable explanation, safe to show to a caller.
  const std::string& message() const { return message_; }

  // Adds what only the operator may see (an engine's error text, a path). Code that turns a
  // Status into a response must never send it, and should log it with the request id; a process
  // that fails to start prints it after the message. Empty unless set.
  Status WithLogDetail(std::string detail) && {
    log_detail_ = std::move(detail);
    return std::move(*this);
  }
  // Never shown to a caller; see WithLogDetail.
  const std::string& log_detail() const { return log_detail_; }

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string reason_;
  std::string message_;
  std::string log_detail_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgument(std::string msg, std::string reason = "application/invalid_input") {
  return {StatusCode::kInvalidArgument, std::move(reason), std::move(msg)};
}
inline Status NotFound(std::string msg, std::string reason = "data/not_found") {
  return {StatusCode::kNotFound, std::move(reason), std::move(msg)};
}
inline Status AlreadyExists(std::string msg, std::string reason = "data/conflict") {
  return {StatusCode::kAlreadyExists, std::move(reason), std::move(msg)};
}
inline Status PermissionDenied(std::string msg,
                               std::string reason = "authorization/insufficient_permissions") {
  return {StatusCode::kPermissionDenied, std::move(reason), std::move(msg)};
}
inline Status Unauthenticated(std::string msg, std::string reason) {
  return {StatusCode::kUnauthenticated, std::move(reason), std::move(msg)};
}
inline Status FailedPrecondition(std::string msg, std::string reason = "application/precondition") {
  return {StatusCode::kFailedPrecondition, std::move(reason), std::move(msg)};
}
inline Status Internal(std::string msg) {
  return {StatusCode::kInternal, "application/unexpected_error", std::move(msg)};
}
inline Status Unavailable(std::string msg, std::string reason = "application/service_unavailable") {
  return {StatusCode::kUnavailable, std::move(reason), std::move(msg)};
}

// An operation asked not to wait on the disk (RequestContext::may_block false) that would have
// to: the caller runs it again where it may block. Never reaches a client.
inline Status WouldBlock() {
  return {StatusCode::kUnavailable, "internal/would_block", "the operation needs a worker thread"};
}
inline bool IsWouldBlock(const Status& s) {
  return s.code() == StatusCode::kUnavailable && s.reason() == "internal/would_block";
}

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "StatusOr needs a value or a non-OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace keyhold

#define KH_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::keyhold::Status kh_status_ = (expr);   \
    if (!kh_status_.ok()) return kh_status_; \
  } while (0)

#define KH_CONCAT_INNER(a, b) a##b
#define KH_CONCAT(a, b) KH_CONCAT_INNER(a, b)
#define KH_ASSIGN_OR_RETURN(lhs, expr) \
  KH_ASSIGN_OR_RETURN_IMPL(KH_CONCAT(kh_or_, __LINE__), lhs, expr)
// `lhs` may be a declaration ("auto x"), so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KH_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
