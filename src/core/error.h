// The one error model of mlcanary: fallible functions return Result<T>
// (std::expected<T, Error>). An Error carries a kind, a message and whether the
// failed operation may be retried (the design document's classification).
#ifndef MLCANARY_CORE_ERROR_H_
#define MLCANARY_CORE_ERROR_H_

#include <expected>
#include <string>
#include <string_view>

namespace mlcanary::core {

enum class ErrorCode {
  kValidation,          // invalid input: never retried
  kNotFound,            // endpoint, variant or deployment unknown: never retried
  kConflict,            // e.g. a deployment is already active; stale version
  kFailedPrecondition,  // state does not allow the operation (refused transition)
  kUnauthenticated,
  kPermissionDenied,
  kModelError,   // the model itself failed on valid input: never retried
  kThrottled,    // throttling: retried
  kUnavailable,  // service temporarily unavailable: retried
  kTimeout,      // network timeout: retried
  kInternal,     // a bug or an unexpected failure
  // The adapter does not offer the operation (e.g. a store without an outbox).
  kUnimplemented,
};

std::string_view ErrorCodeName(ErrorCode code);

// True for the design document's retryable errors: throttling, service
// temporarily unavailable, network timeouts.
constexpr bool IsRetryable(ErrorCode code) {
  return code == ErrorCode::kThrottled || code == ErrorCode::kUnavailable ||
         code == ErrorCode::kTimeout;
}

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return IsRetryable(code_); }

  // "NotFound: endpoint 'recs' does not exist"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Error WithContext(std::string_view context) const;

 private:
  ErrorCode code_;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error(code, std::move(message)));
}
inline std::unexpected<Error> ValidationError(std::string message) {
  return MakeError(ErrorCode::kValidation, std::move(message));
}
inline std::unexpected<Error> NotFoundError(std::string message) {
  return MakeError(ErrorCode::kNotFound, std::move(message));
}
inline std::unexpected<Error> ConflictError(std::string message) {
  return MakeError(ErrorCode::kConflict, std::move(message));
}
inline std::unexpected<Error> FailedPreconditionError(std::string message) {
  return MakeError(ErrorCode::kFailedPrecondition, std::move(message));
}
inline std::unexpected<Error> InternalError(std::string message) {
  return MakeError(ErrorCode::kInternal, std::move(message));
}
inline std::unexpected<Error> UnimplementedError(std::string message) {
  return MakeError(ErrorCode::kUnimplemented, std::move(message));
}

inline Status Ok() { return {}; }

}  // namespace mlcanary::core

#endif  // MLCANARY_CORE_ERROR_H_
