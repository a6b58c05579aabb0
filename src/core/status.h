// Status: the outcome of an operation that can fail in an expected way.
// A value type, cheap to copy; carries a code that callers branch on (never
// the message text) and a message a person can act on.
// Thread-compatible (no shared state).
#pragma once

#include <ostream>
#include <string>
#include <utility>

namespace flowrun {

// The kinds of failure flowrun tells apart. Status::Error(message) without a
// code is kUnknown, so code written before codes existed keeps compiling.
enum class StatusCode {
  kOk,
  kUnknown,            // not classified
  kInvalidArgument,    // input that breaks its rules: a parameter, a request body, a key file
  kNotFound,           // something named is not there (a state path, a reply to append)
  kAlreadyExists,      // a name taken twice (a step type, an endpoint)
  kCancelled,          // the consumer went away, or the run or server was stopped
  kDeadlineExceeded,   // a timeout (no first token, an upstream gone quiet)
  kResourceExhausted,  // a limit reached (reply bytes, JSON depth, file descriptors)
  kUnavailable,        // a service that cannot be reached or started now; may work later
  kUpstreamError,      // the model server answered with an error (HTTP status, error object)
  kMalformed,          // data that breaks its format (an upstream line that is not JSON)
  kInternal,           // a bug: an exception or a state that should not happen
};

// "ok", "unknown", "invalid argument", ... (for logs and test output).
const char* StatusCodeName(StatusCode code);

inline std::ostream& operator<<(std::ostream& out, StatusCode code) { return out << StatusCodeName(code); }

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(StatusCode::kUnknown, std::move(message)); }
  // An error is never kOk: Error(StatusCode::kOk, ...) is kUnknown.
  static Status Error(StatusCode code, std::string message) {
    return Status(code == StatusCode::kOk ? StatusCode::kUnknown : code, std::move(message));
  }

  static Status InvalidArgument(std::string message) { return Error(StatusCode::kInvalidArgument, std::move(message)); }
  static Status NotFound(std::string message) { return Error(StatusCode::kNotFound, std::move(message)); }
  static Status AlreadyExists(std::string message) { return Error(StatusCode::kAlreadyExists, std::move(message)); }
  static Status Cancelled(std::string message = "cancelled") {
    return Error(StatusCode::kCancelled, std::move(message));
  }
  static Status DeadlineExceeded(std::string message) {
    return Error(StatusCode::kDeadlineExceeded, std::move(message));
  }
  static Status ResourceExhausted(std::string message) {
    return Error(StatusCode::kResourceExhausted, std::move(message));
  }
  static Status Unavailable(std::string message) { return Error(StatusCode::kUnavailable, std::move(message)); }
  static Status UpstreamError(std::string message) { return Error(StatusCode::kUpstreamError, std::move(message)); }
  static Status Malformed(std::string message) { return Error(StatusCode::kMalformed, std::move(message)); }
  static Status Internal(std::string message) { return Error(StatusCode::kInternal, std::move(message)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace flowrun
