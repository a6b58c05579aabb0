// Shared pieces of the OpenAI client tests: a request, a way to run a
// stream and keep what it delivered, and a fixture with a fake upstream.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fakes/fake_openai_upstream.h"
#include "llm/openai_client.h"

namespace flowrun::testing {

inline constexpr const char* kTestKey = "sk-test-5up3r-s3cr3t";

inline ChatRequest HelloRequest() {
  ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {{"system", "You are terse."}, {"user", "Say hello"}};
  return request;
}

struct Outcome {
  Status status;
  std::vector<std::string> deltas;
  int flushes = 0;  // empty "nothing more ready" hints
  StreamStats stats;
};

// Streams HelloRequest(); the consumer goes away after `stop_after` deltas
// (never when negative).
inline Outcome RunStream(LlmClient& client, const Cancellation& cancel = Cancellation(), int stop_after = -1) {
  Outcome outcome;
  outcome.status = client.StreamWithStats(
      HelloRequest(),
      [&](std::string_view text) {
        if (text.empty()) {  // a flush hint after each read, not a delta
          ++outcome.flushes;
          return true;
        }
        outcome.deltas.emplace_back(text);
        return stop_after < 0 || static_cast<int>(outcome.deltas.size()) < stop_after;
      },
      cancel, &outcome.stats);
  return outcome;
}

// Config for the fake: fast retries so retry tests take milliseconds.
inline OpenAiConfig FastRetryConfig(const FakeOpenAiUpstream& upstream) {
  OpenAiConfig config;
  config.base_url = upstream.base_url();
  config.api_key = kTestKey;
  config.retry_initial_ms = 10;
  config.retry_max_ms = 40;
  return config;
}

inline FakeUpstreamScript HttpError(int status, std::string body = "",
                                    std::multimap<std::string, std::string> headers = {}) {
  FakeUpstreamScript script;
  script.status = status;
  script.content_type = "application/json";
  script.chunked = false;
  if (!body.empty()) script.pieces = {std::move(body)};
  script.headers = std::move(headers);
  return script;
}

inline FakeUpstreamScript HelloStream() {
  FakeUpstreamScript script;
  script.pieces = {OpenAiDeltaEvent("Hel"), OpenAiDeltaEvent("lo"), OpenAiFinishEvent(), kOpenAiDoneEvent};
  return script;
}

}  // namespace flowrun::testing
