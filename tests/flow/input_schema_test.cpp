#include "flow/input_schema.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

InputSchema ChatSchema() {
  InputField message{"message", "string", true, nullptr, 5, ""};
  InputField history{"history", "messages", false, nlohmann::json::array(), 2, ""};
  InputField count{"count", "integer", false, nullptr, std::nullopt, ""};
  return InputSchema({message, history, count});
}

std::string ErrorFor(const std::string& body_text) {
  InputError error;
  auto input = ChatSchema().Validate(nlohmann::json::parse(body_text), &error);
  if (input) return "OK " + input->dump();
  return error.field + ": " + error.message;
}

TEST(InputSchema, FillsDefaultsAndNulls) {
  EXPECT_EQ(ErrorFor(R"({"message":"hi"})"), R"(OK {"count":null,"history":[],"message":"hi"})");
  EXPECT_EQ(ErrorFor(R"({"message":"héllo","count":2})"), R"(OK {"count":2,"history":[],"message":"héllo"})");
}

TEST(InputSchema, RejectsBadBodiesNamingTheField) {
  EXPECT_EQ(ErrorFor(R"({})"), "message: input 'message' is required");
  EXPECT_EQ(ErrorFor(R"({"message":null})"), "message: input 'message' is required");
  EXPECT_EQ(ErrorFor(R"({"message":3})"), "message: input 'message' must be a string, got integer");
  EXPECT_EQ(ErrorFor(R"({"message":"toolong"})"), "message: input 'message' is too long: 7 characters, at most 5");
  EXPECT_EQ(ErrorFor(R"({"message":"hi","count":1.5})"), "count: input 'count' must be an integer, got number");
  EXPECT_EQ(ErrorFor(R"({"mesage":"hi"})"), "mesage: unknown input 'mesage'; did you mean 'message'?");
  EXPECT_EQ(ErrorFor(R"([1])"), ": the request body must be a JSON object, got array");
  EXPECT_EQ(ErrorFor(R"({"message":"hi","history":[{"role":"user"}]})"),
            R"(history: input 'history' item 0 must be {"role": string, "content": string})");
  EXPECT_EQ(ErrorFor(R"({"message":"hi","history":[{"role":"tool","content":"x"}]})"),
            "history: input 'history' item 0 has role 'tool'; use user, assistant or system");
  EXPECT_EQ(ErrorFor(R"({"message":"hi","history":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"}]})"),
            "history: input 'history' is too long: 3 items, at most 2");
}

}  // namespace
}  // namespace flowrun
