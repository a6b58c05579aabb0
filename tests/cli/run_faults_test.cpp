// `flowrun run` against a misbehaving upstream (FakeOpenAiUpstream on
// 127.0.0.1): every fault exits 1 with a message on stderr that names it,
// a fault that a retry cures exits 0, and the API key never shows.
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_openai_upstream.h"
#include "fakes/sanitizers.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::FakeOpenAiUpstream;
using testing::FakeUpstreamScript;
using testing::OpenAiDeltaEvent;
using testing::ProcessResult;
using testing::RunProcess;

const std::string kBinary = FLOWRUN_BINARY;
const std::string kChat = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";
constexpr const char* kKey = "sk-test-cli-k3y-do-not-print";
constexpr const char* kStepError = "flowrun run: error in step 'reply': ";

std::filesystem::path FlowDir() {
  return std::filesystem::temp_directory_path() / ("flowrun-run-faults-" + std::to_string(getpid()));
}

// A chat flow with fast retries and short timeouts, so faults end quickly.
std::string WriteFlow(const std::string& name, const std::string& llm_params) {
  const auto dir = FlowDir();
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path) << "version: 1\n"
                         "name: faults\n"
                         "input:\n"
                         "  message: {type: string, required: true}\n"
                         "steps:\n"
                         "  - id: user\n"
                         "    type: append-message\n"
                         "    content: \"{{ input.message }}\"\n"
                         "  - id: reply\n"
                         "    type: llm-stream\n"
                      << llm_params;
  return path;
}

const std::string kFastRetries =
    "    max_attempts: 3\n"
    "    retry_initial_ms: 10\n"
    "    retry_max_ms: 50\n";

FakeUpstreamScript HttpError(int status, std::string body) {
  FakeUpstreamScript script;
  script.status = status;
  script.content_type = "application/json";
  script.chunked = false;
  script.pieces = {std::move(body)};
  return script;
}

FakeUpstreamScript Stream(std::vector<std::string> pieces, FakeUpstreamScript::End end) {
  FakeUpstreamScript script;
  script.pieces = std::move(pieces);
  script.end = end;
  return script;
}

class RunFaultsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(FlowDir(), ignored);
  }

  ProcessResult Run(const std::string& flow, const std::string& base_url = "") {
    return RunProcess({kBinary, "run", flow, "--input", "message=hi"},
                      {{"OPENAI_BASE_URL", base_url.empty() ? upstream_.base_url() : base_url},
                       {"OPENAI_API_KEY", kKey}});
  }

  // Exit 1, `message` on stderr after the step prefix, the key nowhere.
  static void ExpectFailure(const ProcessResult& result, const std::string& message) {
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find(kStepError + message), std::string::npos) << result.err;
    ExpectNoKey(result);
  }

  static void ExpectNoKey(const ProcessResult& result) {
    EXPECT_EQ(result.out.find(kKey), std::string::npos) << result.out;
    EXPECT_EQ(result.err.find(kKey), std::string::npos) << result.err;
  }

  FakeOpenAiUpstream upstream_;
};

TEST_F(RunFaultsTest, UnauthorizedIsNotRetried) {
  upstream_.SetScript(HttpError(401, std::string(R"({"error":{"message":"Incorrect API key provided: )") + kKey +
                                         R"(","type":"invalid_request_error"}})"));
  const ProcessResult result = Run(kChat);
  ExpectFailure(result, "upstream returned HTTP 401: Incorrect API key provided: [redacted]\n");
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(upstream_.request_count(), 1);
  EXPECT_EQ(result.err.find("retrying"), std::string::npos) << result.err;
}

TEST_F(RunFaultsTest, ForbiddenIsNotRetried) {
  upstream_.SetScript(HttpError(403, R"({"error":{"message":"Project does not have access to model"}})"));
  ExpectFailure(Run(WriteFlow("forbidden.yaml", kFastRetries)),
                "upstream returned HTTP 403: Project does not have access to model\n");
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(RunFaultsTest, ServiceUnavailableThenAnAnswerSucceedsAfterRetries) {
  const std::string overloaded = R"({"error":{"message":"overloaded"}})";
  upstream_.SetScripts({HttpError(503, overloaded), HttpError(503, overloaded),
                        Stream({OpenAiDeltaEvent("Hel"), OpenAiDeltaEvent("lo"), testing::kOpenAiDoneEvent},
                               FakeUpstreamScript::End::kComplete)});
  const ProcessResult result = Run(WriteFlow("retry.yaml", kFastRetries));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "Hello\n");
  EXPECT_NE(result.err.find("upstream returned HTTP 503: overloaded; retrying in "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(" ms (attempt 2 of 3)"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(" ms (attempt 3 of 3)"), std::string::npos) << result.err;
  EXPECT_EQ(upstream_.request_count(), 3);
  ExpectNoKey(result);
}

TEST_F(RunFaultsTest, ServiceUnavailableForeverGivesUp) {
  upstream_.SetScript(HttpError(503, R"({"error":{"message":"overloaded"}})"));
  ExpectFailure(Run(WriteFlow("unavailable.yaml", kFastRetries)),
                "upstream returned HTTP 503: overloaded (gave up after 3 attempts)\n");
  EXPECT_EQ(upstream_.request_count(), 3);
}

TEST_F(RunFaultsTest, RefusedConnectionGivesUpAfterRetries) {
  std::string dead_url;
  {
    FakeOpenAiUpstream gone;
    dead_url = gone.base_url();
  }
  const ProcessResult result = Run(WriteFlow("refused.yaml", kFastRetries), dead_url);
  ExpectFailure(result, "cannot reach upstream " + dead_url + ": ");
  EXPECT_NE(result.err.find("(gave up after 3 attempts)"), std::string::npos) << result.err;
}

TEST_F(RunFaultsTest, NonJsonDataLine) {
  upstream_.SetStream({OpenAiDeltaEvent("Hel"), "data: <html>oops</html>\n\n", testing::kOpenAiDoneEvent});
  const ProcessResult result = Run(WriteFlow("not_json.yaml", kFastRetries));
  ExpectFailure(result, "upstream sent a data line that is not JSON: <html>oops</html>\n");
  EXPECT_EQ(result.out, "Hel\n");  // what arrived before the fault stays printed
  EXPECT_EQ(upstream_.request_count(), 1);
}

TEST_F(RunFaultsTest, StreamClosedWithoutDoneIsNeverACleanFinish) {
  for (auto end : {FakeUpstreamScript::End::kComplete, FakeUpstreamScript::End::kAbort}) {
    upstream_.SetStream({OpenAiDeltaEvent("Hel")}, end);
    const ProcessResult result = Run(WriteFlow("truncated.yaml", kFastRetries));
    ExpectFailure(result, "upstream stream ended before the answer finished");
    EXPECT_EQ(result.out, "Hel\n");
  }
}

TEST_F(RunFaultsTest, SilenceAfterTheHeadersIsAnIdleTimeout) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kHang);
  ExpectFailure(Run(WriteFlow("idle.yaml", kFastRetries + "    idle_timeout_ms: 300\n")),
                "upstream sent nothing for 300 ms\n");
}

TEST_F(RunFaultsTest, KeepAlivesWithoutTokensIsAFirstTokenTimeout) {
  upstream_.SetStream({}, FakeUpstreamScript::End::kTrickle);
  ExpectFailure(Run(WriteFlow("first_token.yaml", kFastRetries +
                                                      "    first_token_timeout_ms: 400\n"
                                                      "    idle_timeout_ms: 200\n")),
                "no first token from upstream within 400 ms\n");
}

TEST_F(RunFaultsTest, EnormousLineFailsWithBoundedMemory) {
  FakeUpstreamScript script;
  script.pieces = {"data: {\"choices\":[{\"delta\":{\"content\":\""};
  script.filler_bytes = std::uint64_t{256} << 20;  // no newline anywhere
  upstream_.SetScript(script);
  const ProcessResult result = Run(WriteFlow("enormous.yaml", kFastRetries));
  ExpectFailure(result, "upstream sent an oversized event: SSE line longer than 1048576 bytes\n");
  // The largest child so far (this one, or another small flowrun) stayed far
  // below the line's size.
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  if (FLOWRUN_MEASURES_RSS) {
    EXPECT_LT(children.ru_maxrss, 160 * 1024) << "KiB";  // not under the sanitizers
  }
}

TEST_F(RunFaultsTest, RetryParametersAreCheckedAndListed) {
  const std::string bad = WriteFlow("bad_attempts.yaml", "    max_attempts: 0\n");
  const ProcessResult validated = RunProcess({kBinary, "validate", bad});
  EXPECT_EQ(validated.exit_code, 1);
  EXPECT_NE(validated.err.find("error: max_attempts must be between 1 and 100"), std::string::npos) << validated.err;
  const ProcessResult typed = RunProcess({kBinary, "validate", WriteFlow("bad_type.yaml", "    idle_timeout_ms: soon\n")});
  EXPECT_EQ(typed.exit_code, 1);
  EXPECT_NE(typed.err.find("'idle_timeout_ms' must be an integer"), std::string::npos) << typed.err;

  const ProcessResult steps = RunProcess({kBinary, "steps"});
  for (const char* listed : {"  max_attempts (integer, default 3)", "  retry_initial_ms (integer, default 500)",
                             "  retry_max_ms (integer, default 8000)", "  first_token_timeout_ms (integer, default 60000)",
                             "  idle_timeout_ms (integer, default 30000)",
                             "  connect_timeout_ms (integer, default 10000)"}) {
    EXPECT_NE(steps.out.find(listed), std::string::npos) << listed << "\n" << steps.out;
  }
}

}  // namespace
}  // namespace flowrun
