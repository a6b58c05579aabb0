// The run state the expression and template fuzzers evaluate against: every
// kind of value, nesting, UTF-8, and a value that looks like a template
// (it must never be rendered again). Built once; read-only after.
#pragma once

#include <nlohmann/json.hpp>

namespace flowrun::fuzz {

inline const nlohmann::json& State() {
  static const nlohmann::json state = nlohmann::json::parse(R"({
    "input": {"message": "hi", "count": 3, "ratio": 0.5, "flag": true, "nothing": null,
              "list": [1, "two", {"k": "v"}], "obj": {"a": {"b": [[], {}]}}, "json": "[1, {\"a\": 2}]"},
    "history": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "héllo {{ input.message }}"}],
    "reply": "ok"
  })");
  return state;
}

}  // namespace flowrun::fuzz
