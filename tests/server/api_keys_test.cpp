// API keys fail closed: key sources parsed exactly (server/api_keys.h), and
// `flowrun serve` refusing to start (exit 2) when a given source yields no
// key or a line that is not one key. Messages never show a key.
#include "server/api_keys.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fakes/raw_http_client.h"
#include "fakes/subprocess.h"

namespace flowrun {
namespace {

using testing::BackgroundProcess;

const std::string kFlow = std::string(FLOWRUN_SOURCE_DIR) + "/flows/chat.yaml";
const std::map<std::string, std::optional<std::string>> kOffline = {{"OPENAI_API_KEY", std::nullopt},
                                                                    {"OPENAI_BASE_URL", std::nullopt},
                                                                    {"FLOWRUN_API_KEYS", std::nullopt}};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct StartResult {
  int exit_code = -1;  // -1: it started (and was stopped) or hung
  std::string err;
};

// Runs `flowrun serve` expecting it to refuse to start; a server that starts
// anyway is killed after the deadline and reported.
StartResult ServeExpectingRefusal(std::vector<std::string> args, std::map<std::string, std::optional<std::string>> env) {
  const std::string err_path = testing::WriteTempFile("serve.err", "");
  std::vector<std::string> argv = {FLOWRUN_BINARY, "serve", kFlow, "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const auto& [name, value] : kOffline) env.emplace(name, value);
  StartResult result;
  {
    BackgroundProcess process(argv, env, err_path);
    result.exit_code = process.Wait(std::chrono::seconds(10));
    if (result.exit_code == -1) ADD_FAILURE() << "serve did not refuse to start";
  }
  result.err = ReadFile(err_path);
  return result;
}

TEST(ApiKeys, FileTrimsKeysAndSkipsWholeLineComments) {
  ApiKeys keys;
  ASSERT_TRUE(ParseApiKeyFile("# accepted keys\n  key-one-0123456789abcdef  \r\n\n\t# indented comment\r\n"
                              "key#two-0123456789abcdef\nlast-0123456789abcdef",
                              "keys.txt", &keys)
                  .ok());
  EXPECT_EQ(keys.keys, (std::vector<std::string>{"key-one-0123456789abcdef", "key#two-0123456789abcdef",
                                                 "last-0123456789abcdef"}));
  EXPECT_TRUE(keys.warnings.empty());
}

TEST(ApiKeys, FileLineWithWhitespaceInsideIsAnErrorNamingTheLineNotTheKey) {
  for (const char* line : {"sk-secret-0123456789 # the staging key", "sk-secret-0123456789 second-0123456789",
                           "sk-secret-0123456789\x01"}) {
    ApiKeys keys;
    Status status = ParseApiKeyFile(std::string("good-key-0123456789abcdef\n\n") + line + "\n", "/etc/keys.txt", &keys);
    ASSERT_FALSE(status.ok()) << line;
    EXPECT_EQ(status.message(),
              "/etc/keys.txt:3: a key must not contain whitespace or control characters; "
              "comments are whole lines starting with '#'");
  }
}

TEST(ApiKeys, FileWithoutAKeyIsAnError) {
  for (const char* text : {"", "\n\n", "# only a comment\n   # another\n", "  \t \r\n"}) {
    ApiKeys keys;
    Status status = ParseApiKeyFile(text, "keys.txt", &keys);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "--api-key-file keys.txt holds no key");
  }
}

TEST(ApiKeys, ListThatIsSetButHoldsNoKeyIsAnError) {
  for (const char* list : {"", ",", " ", " , ,\t", ",,,"}) {
    ApiKeys keys;
    Status status = ParseApiKeyList(list, &keys);
    ASSERT_FALSE(status.ok()) << "'" << list << "'";
    EXPECT_EQ(status.message(),
              "FLOWRUN_API_KEYS is set but holds no key; set it to comma-separated keys, or unset it to serve "
              "without keys");
    EXPECT_TRUE(keys.keys.empty());
  }
}

TEST(ApiKeys, ListIsCommaSeparatedTrimmedAndRefusesSpacesInsideAKey) {
  ApiKeys keys;
  ASSERT_TRUE(ParseApiKeyList(" first-0123456789abcdef ,,second-0123456789abcdef,", &keys).ok());
  EXPECT_EQ(keys.keys, (std::vector<std::string>{"first-0123456789abcdef", "second-0123456789abcdef"}));
  ApiKeys spaced;
  Status status = ParseApiKeyList("first-0123456789abcdef,sk-a-0123456789 sk-b-0123456789", &spaced);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "FLOWRUN_API_KEYS entry 2: a key must not contain whitespace or control characters; separate keys with "
            "commas");
}

TEST(ApiKeys, ShortKeysAreWarnedAboutBySourceAndPosition) {
  ApiKeys keys;
  ASSERT_TRUE(ParseApiKeyFile("# keys\nlong-enough-0123\ntiny7\n", "keys.txt", &keys).ok());
  ASSERT_TRUE(ParseApiKeyList("long-enough-key-0123,,abc", &keys).ok());
  EXPECT_EQ(keys.keys.size(), 4u);  // short keys still work; they are only warned about
  EXPECT_EQ(keys.warnings,
            (std::vector<std::string>{
                "keys.txt:3: the key is shorter than 16 characters; use a long random key (e.g. openssl rand -hex 32)",
                "FLOWRUN_API_KEYS entry 3: the key is shorter than 16 characters; use a long random key (e.g. "
                "openssl rand -hex 32)"}));
}

TEST(ApiKeys, ServeRefusesToStartWhenTheVariableHoldsNoKey) {
  for (const char* value : {",", " ", ""}) {
    SCOPED_TRACE(std::string("FLOWRUN_API_KEYS='") + value + "'");
    StartResult result = ServeExpectingRefusal({}, {{"FLOWRUN_API_KEYS", value}});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(result.err,
              "flowrun serve: error: FLOWRUN_API_KEYS is set but holds no key; set it to comma-separated keys, or "
              "unset it to serve without keys\n");
  }
}

TEST(ApiKeys, ServeRefusesAKeyFileLineWithAnInlineComment) {
  const std::string file = testing::WriteTempFile("keys.txt", "# keys\nsk-live-abcdef0123456789 # staging\n");
  StartResult result = ServeExpectingRefusal({"--api-key-file", file}, {});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "flowrun serve: error: " + file +
                            ":2: a key must not contain whitespace or control characters; comments are whole lines "
                            "starting with '#'\n");
  EXPECT_EQ(result.err.find("sk-live"), std::string::npos) << "the key reached the message";

  const std::string empty = testing::WriteTempFile("keys.txt", "# no keys yet\n");
  StartResult no_key = ServeExpectingRefusal({"--api-key-file", empty}, {});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_EQ(no_key.err, "flowrun serve: error: --api-key-file " + empty + " holds no key\n");
}

TEST(ApiKeys, ServeWarnsAboutShortKeysAndEnforcesTrimmedKeys) {
  const std::string file =
      testing::WriteTempFile("keys.txt", "  # indented comment\r\n\t file-key-0123456789abcdef  \r\ntiny7\n");
  const std::string err_path = testing::WriteTempFile("serve.err", "");
  auto env = kOffline;
  env["FLOWRUN_API_KEYS"] = "tiny8, env-key-0123456789abcdef";
  {
    const std::string fast = testing::WriteTempFile(
        "fast.yaml", "version: 1\nname: chat\nendpoint: /chat\ninput:\n  message: string\nsteps:\n"
                     "  - type: append-message\n    content: \"{{ input.message }}\"\n"
                     "  - id: reply\n    type: llm-stream\n    provider: mock\n");
    testing::ServeProcess server({fast, "--api-key-file", file}, env, err_path);
    ASSERT_GT(server.port(), 0);
    const std::string body = R"({"message":"hi"})";
    EXPECT_EQ(testing::RawRequest(server.port(), "POST", "/chat", body).status, 401);
    for (const char* key : {"file-key-0123456789abcdef", "tiny7", "tiny8", "env-key-0123456789abcdef"}) {
      auto allowed = testing::RawRequest(server.port(), "POST", "/chat", body,
                                         {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + key}});
      EXPECT_EQ(allowed.status, 200) << key;
    }
    EXPECT_EQ(testing::RawRequest(server.port(), "POST", "/chat", body,
                                  {{"Content-Type", "application/json"}, {"Authorization", "Bearer # indented comment"}})
                  .status,
              401);
  }
  const std::string err = ReadFile(err_path);
  EXPECT_NE(err.find("flowrun serve: warning: " + file +
                     ":3: the key is shorter than 16 characters; use a long random key (e.g. openssl rand -hex 32)\n"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("flowrun serve: warning: FLOWRUN_API_KEYS entry 1: the key is shorter than 16 characters; use a "
                     "long random key (e.g. openssl rand -hex 32)\n"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("API keys required (4 accepted)"), std::string::npos) << err;
  for (const char* key : {"tiny7", "tiny8", "file-key-0123456789abcdef", "env-key-0123456789abcdef"}) {
    EXPECT_EQ(err.find(key), std::string::npos) << key << " reached the log";
  }
}

}  // namespace
}  // namespace flowrun
