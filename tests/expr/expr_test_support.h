// Helpers for the expression tests: parse + evaluate in one call, with
// results as text so each case is one line.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "expr/expression.h"

namespace flowrun::expr::testing {

// The state most tests evaluate against.
inline const nlohmann::json& State() {
  static const nlohmann::json state = nlohmann::json::parse(R"({
    "input": {"message": "Hello World", "n": 3, "ratio": 0.5, "flag": true, "nothing": null,
              "tags": ["a", "b", "c"], "meta": {"lang": "en"}, "empty": "", "json": "{\"k\": [1, 2]}"},
    "history": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "second"}],
    "reply": "ok",
    "words": "héllo wörld"
  })");
  return state;
}

// The value as compact JSON, "error: <message>" when evaluation fails, or
// "parse error at <offset>: <message>" when parsing fails.
inline std::string Eval(const std::string& text, const nlohmann::json& state = State(), const EvalLimits& limits = {}) {
  ExprError error;
  auto expression = Expression::Parse(text, &error);
  if (!expression) return "parse error at " + std::to_string(error.where.offset) + ": " + error.message;
  EvalResult result = expression->Evaluate(JsonVariables(state), limits);
  if (!result.ok()) return "error: " + *result.error;
  return result.value.dump();
}

}  // namespace flowrun::expr::testing
