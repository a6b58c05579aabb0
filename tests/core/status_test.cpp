#include "core/status.h"

#include <sstream>

#include <gtest/gtest.h>

namespace flowrun {
namespace {

TEST(Status, OkHasNoCodeAndNoMessage) {
  EXPECT_TRUE(Status().ok());
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().code(), StatusCode::kOk);
  EXPECT_EQ(Status::Ok().message(), "");
}

TEST(Status, ErrorWithoutACodeIsUnknown) {
  Status status = Status::Error("it broke");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "it broke");
}

TEST(Status, CodesSurviveCopiesAndAnErrorIsNeverOk) {
  Status status = Status::Error(StatusCode::kDeadlineExceeded, "no first token from upstream within 5 ms");
  Status copy = status;
  EXPECT_FALSE(copy.ok());
  EXPECT_EQ(copy.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(copy.message(), "no first token from upstream within 5 ms");
  Status mislabelled = Status::Error(StatusCode::kOk, "failed");
  EXPECT_FALSE(mislabelled.ok());
  EXPECT_EQ(mislabelled.code(), StatusCode::kUnknown);
}

TEST(Status, ShorthandsSetTheirCode) {
  EXPECT_EQ(Status::Cancelled().code(), StatusCode::kCancelled);
  EXPECT_EQ(Status::Cancelled().message(), "cancelled");
  EXPECT_EQ(Status::InvalidArgument("a").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Status::NotFound("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(Status::AlreadyExists("a").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Status::DeadlineExceeded("a").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Status::ResourceExhausted("a").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Status::Unavailable("a").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Status::UpstreamError("a").code(), StatusCode::kUpstreamError);
  EXPECT_EQ(Status::Malformed("a").code(), StatusCode::kMalformed);
  EXPECT_EQ(Status::Internal("a").code(), StatusCode::kInternal);
  EXPECT_EQ(Status::Internal("a").message(), "a");
}

TEST(Status, CodesHaveNames) {
  std::ostringstream out;
  out << StatusCode::kResourceExhausted << ", " << StatusCode::kCancelled << ", " << StatusCode::kOk;
  EXPECT_EQ(out.str(), "resource exhausted, cancelled, ok");
  EXPECT_STREQ(StatusCodeName(StatusCode::kUpstreamError), "upstream error");
}

}  // namespace
}  // namespace flowrun
