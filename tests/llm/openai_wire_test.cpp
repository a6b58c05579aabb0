// Tests for the OpenAI wire-format helpers: chunk parsing (finish reasons
// and usage too), error bodies, request bodies and secret scrubbing.
#include "llm/openai_wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "llm/chunk_scanner.h"

namespace flowrun {
namespace {

TEST(OpenAiWireTest, ParsesContentDeltasAndFinishReason) {
  OpenAiChunk chunk;
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{"content":"hé"},"finish_reason":null}]})", &chunk).ok());
  EXPECT_EQ(chunk.content, "hé");
  EXPECT_FALSE(chunk.finished);
  EXPECT_FALSE(chunk.done);

  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{},"finish_reason":"length"}]})", &chunk).ok());
  EXPECT_EQ(chunk.content, "");
  EXPECT_TRUE(chunk.finished);

  EXPECT_EQ(chunk.finish_reason, "length");

  ASSERT_TRUE(ParseOpenAiChunk("[DONE]", &chunk).ok());
  EXPECT_TRUE(chunk.done);
}

TEST(OpenAiWireTest, SkipsRoleOnlyNullAndChoicelessChunks) {
  OpenAiChunk chunk;
  for (const char* data : {R"({"choices":[{"delta":{"role":"assistant"}}]})",
                           R"({"choices":[{"delta":{"content":null}}]})", R"({"choices":[]})",
                           R"({"usage":{"total_tokens":3}})", R"({"choices":[{"delta":{"content":42}}]})"}) {
    ASSERT_TRUE(ParseOpenAiChunk(data, &chunk).ok()) << data;
    EXPECT_EQ(chunk.content, "") << data;
    EXPECT_FALSE(chunk.finished) << data;
  }
}

TEST(OpenAiWireTest, ReportsErrorsAndNonJson) {
  OpenAiChunk chunk;
  Status status = ParseOpenAiChunk(R"({"error":{"message":"Rate limit reached","type":"requests"}})", &chunk);
  EXPECT_EQ(status.code(), StatusCode::kUpstreamError);
  EXPECT_EQ(status.message(), "upstream error: Rate limit reached");
  status = ParseOpenAiChunk(R"({"error":"overloaded"})", &chunk);
  EXPECT_EQ(status.code(), StatusCode::kUpstreamError);
  EXPECT_EQ(status.message(), "upstream error: overloaded");
  status = ParseOpenAiChunk("<html>" + std::string(200, 'x'), &chunk);
  EXPECT_EQ(status.code(), StatusCode::kMalformed);
  EXPECT_EQ(status.message(), "upstream sent a data line that is not JSON: <html>" + std::string(74, 'x') + "...");
}

// Parses `data`, expecting success; the chunk it gave.
OpenAiChunk ParseOk(std::string_view data) {
  OpenAiChunk chunk;
  const Status status = ParseOpenAiChunk(data, &chunk);
  EXPECT_TRUE(status.ok()) << data << ": " << status.message();
  return chunk;
}

std::string ParseError(std::string_view data) {
  OpenAiChunk chunk;
  chunk.content = "stale";
  const Status status = ParseOpenAiChunk(data, &chunk);
  EXPECT_FALSE(status.ok()) << data;
  EXPECT_EQ(chunk.content, "") << "a failed parse leaves an empty chunk";
  return status.message();
}

TEST(OpenAiWireTest, ReadsATypicalChunk) {
  const OpenAiChunk chunk = ParseOk(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,)"
      R"("choices":[{"index":0,"delta":{"role":"assistant","content":"t12 ","refusal":null},"logprobs":null,)"
      R"("finish_reason":null}],"usage":null})");
  EXPECT_EQ(chunk.content, "t12 ");
  EXPECT_FALSE(chunk.finished);
  EXPECT_FALSE(chunk.done);
}

TEST(OpenAiWireTest, SkipsNestedObjectsBeforeChoices) {
  const OpenAiChunk chunk = ParseOk(
      R"({"meta":{"choices":[{"delta":{"content":"no"},"finish_reason":"stop"}],"deep":[[{"a":{}}],[]]},)"
      R"("error_count":0,"x":[{"choices":[]}],"choices":[{"delta":{"content":"yes"}}]})");
  EXPECT_EQ(chunk.content, "yes");
  EXPECT_FALSE(chunk.finished);
}

TEST(OpenAiWireTest, OnlyTheFirstChoiceCounts) {
  OpenAiChunk chunk = ParseOk(R"({"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]})");
  EXPECT_EQ(chunk.content, "a");
  chunk = ParseOk(R"({"choices":[{"delta":{}},{"delta":{"content":"b"},"finish_reason":"stop"}]})");
  EXPECT_EQ(chunk.content, "");
  EXPECT_FALSE(chunk.finished);
  // A first choice that is not an object hides the rest.
  for (const char* data : {R"({"choices":[null,{"delta":{"content":"b"},"finish_reason":"stop"}]})",
                           R"({"choices":[[{"delta":{"content":"b"}}],{"delta":{"content":"b"}}]})",
                           R"({"choices":["x",{"delta":{"content":"b"}}]})"}) {
    chunk = ParseOk(data);
    EXPECT_EQ(chunk.content, "") << data;
    EXPECT_FALSE(chunk.finished) << data;
  }
}

TEST(OpenAiWireTest, IgnoresContentKeysAtOtherDepths) {
  OpenAiChunk chunk = ParseOk(
      R"({"content":"top","choices":[{"content":"choice",)"
      R"("delta":{"tool_calls":[{"index":0,"function":{"name":"f","content":"tool"},"content":"call"}]},)"
      R"("logprobs":{"content":[{"token":"tok","content":"lp","top_logprobs":[]}]}}]})");
  EXPECT_EQ(chunk.content, "");
  // Nested containers inside delta do not hide a "content" after them.
  chunk = ParseOk(
      R"({"choices":[{"logprobs":{"content":[{"content":"lp"}]},)"
      R"("delta":{"tool_calls":[{"content":"no","delta":{"content":"no"}}],"content":"yes"}}]})");
  EXPECT_EQ(chunk.content, "yes");
  // Nor does a finish_reason anywhere but in choices[0].
  chunk = ParseOk(R"({"finish_reason":"stop","choices":[{"delta":{"finish_reason":"stop","x":{"finish_reason":1}}}]})");
  EXPECT_FALSE(chunk.finished);
}

TEST(OpenAiWireTest, DecodesEscapesAndSurrogatePairs) {
  OpenAiChunk chunk = ParseOk(
      R"({"choices":[{"delta":{"content":"q\"b\\s\/n\n t\t r\r b\b f\f \u00e9\u65E5 \ud83c\udf89 \u0000."}}]})");
  EXPECT_EQ(chunk.content, std::string("q\"b\\s/n\n t\t r\r b\b f\f é日 🎉 \0.", 34));
  chunk = ParseOk(R"({"choices":[{"delta":{"content":"raw 🎉 日本"}}]})");
  EXPECT_EQ(chunk.content, "raw 🎉 日本");
  // Escaped keys are keys all the same.
  chunk = ParseOk(R"({"ch\u006fices":[{"d\u0065lta":{"c\u006fntent":"escaped keys"}}]})");
  EXPECT_EQ(chunk.content, "escaped keys");
}

TEST(OpenAiWireTest, FinishReasonWithoutContent) {
  OpenAiChunk chunk = ParseOk(R"({"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})");
  EXPECT_EQ(chunk.content, "");
  EXPECT_TRUE(chunk.finished);
  chunk = ParseOk(R"({"choices":[{"finish_reason":"length"}]})");
  EXPECT_TRUE(chunk.finished);
  // Any non-null value counts, even before the delta.
  chunk = ParseOk(R"({"choices":[{"finish_reason":{"type":"stop"},"delta":{"content":"end"}}]})");
  EXPECT_EQ(chunk.content, "end");
  EXPECT_TRUE(chunk.finished);
}

TEST(OpenAiWireTest, ChoicelessShapesAreEmpty) {
  for (const char* data : {R"({})", R"({"choices":[]})", R"({"choices":null})", R"({"choices":{"0":{}}})",
                           R"({"choices":"x"})", R"({"choices":[{"delta":null}]})",
                           R"({"choices":[{"delta":["content","x"]}]})", R"({"choices":[{"delta":{"content":["x"]}}]})",
                           R"({"choices":[{"delta":{"content":{"text":"x"}}}]})",
                           R"({"choices":[{"delta":{"content":true}}]})", R"({"error":null})"}) {
    const OpenAiChunk chunk = ParseOk(data);
    EXPECT_EQ(chunk.content, "") << data;
    EXPECT_FALSE(chunk.finished) << data;
    EXPECT_FALSE(chunk.done) << data;
  }
}

TEST(OpenAiWireTest, ToleratesWhitespace) {
  const OpenAiChunk chunk = ParseOk(
      " \r\n\t{ \"choices\" : [ { \"delta\" : { \"content\" : \" x \" } , \"finish_reason\" : \"stop\" } ] }\r\n ");
  EXPECT_EQ(chunk.content, " x ");
  EXPECT_TRUE(chunk.finished);
  // The sentinel is matched exactly, as before.
  EXPECT_EQ(ParseError(" [DONE]"), "upstream sent a data line that is not JSON: [DONE]");
}

TEST(OpenAiWireTest, RepeatedKeysCountAsTheirLastOccurrence) {
  // As a DOM would have it: the last member of a name wins.
  EXPECT_EQ(ParseOk(R"({"choices":[{"delta":{"content":"a","content":"b"}}]})").content, "b");
  EXPECT_EQ(ParseOk(R"({"choices":[{"delta":{"content":"a","content":null}}]})").content, "");
  EXPECT_EQ(ParseOk(R"({"choices":[{"delta":{"content":"a"},"delta":{}}]})").content, "");
  OpenAiChunk chunk = ParseOk(R"({"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}],"choices":[]})");
  EXPECT_EQ(chunk.content, "");
  EXPECT_FALSE(chunk.finished);
  chunk = ParseOk(R"({"choices":[{"finish_reason":"stop","finish_reason":null}]})");
  EXPECT_FALSE(chunk.finished);
  EXPECT_EQ(ParseOk(R"({"error":"x","error":null,"choices":[{"delta":{"content":"ok"}}]})").content, "ok");
  EXPECT_EQ(ParseError(R"({"error":null,"error":"late"})"), "upstream error: late");
}

TEST(OpenAiWireTest, UpstreamErrorsWinOverContent) {
  EXPECT_EQ(ParseError(R"({"choices":[{"delta":{"content":"a"}}],"error":{"message":"boom"}})"),
            "upstream error: boom");
  // Shapes without a string message are shown as JSON.
  EXPECT_EQ(ParseError(R"({"error":{"code":429,"message":null}})"), R"(upstream error: {"code":429,"message":null})");
  EXPECT_EQ(ParseError(R"({"error":42})"), "upstream error: 42");
  EXPECT_EQ(ParseError(R"({"error":false})"), "upstream error: false");
  // An "error" anywhere but at the top is just data.
  EXPECT_EQ(ParseOk(R"({"choices":[{"error":"x","delta":{"content":"a","error":"y"}}],"m":{"error":1}})").content,
            "a");
}

TEST(OpenAiWireTest, RejectsWhatIsNotOneJsonObject) {
  const std::string prefix = "upstream sent a data line that is not JSON: ";
  for (const char* data :
       {"", " ", "[DONE", "[]", R"([{"choices":[]}])", R"("text")", "42", "null", R"({"choices":[]} x)",
        R"({"choices":[]}{})", R"({"choices":[{"delta":{"content":"ab)", R"({"choices":[{"delta":{"content":"a"}}])",
        R"({'choices':[]})", R"({"choices":[],})", R"({"choices":[{"delta":{"content":"\ud83c"}}]})",
        R"({"choices":[{"delta":{"content":"\x"}}]})", "{\"choices\":[{\"delta\":{\"content\":\"a\nb\"}}]}",
        "/* c */ {}"}) {
    EXPECT_EQ(ParseError(data), prefix + Abbreviate(data, 80)) << data;
  }
  // Invalid UTF-8 inside a string is rejected too, wherever it is.
  EXPECT_EQ(ParseError("{\"choices\":[{\"delta\":{\"content\":\"a\xFF\"}}]}").rfind(prefix, 0), 0u);
  EXPECT_EQ(ParseError("{\"x\":\"\xED\xA0\x80\",\"choices\":[]}").rfind(prefix, 0), 0u);
  EXPECT_EQ(ParseError("{\"choices\":[{\"delta\":{\"content\":\"cut \xE2\x82\"}}]}").rfind(prefix, 0), 0u);
  // Not JSON wins over an upstream error earlier in the line.
  EXPECT_EQ(ParseError(R"({"error":"x",)"), prefix + R"({"error":"x",)");
}

TEST(OpenAiWireTest, EachParseStartsFromAnEmptyChunk) {
  OpenAiChunk chunk;
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]})", &chunk).ok());
  ASSERT_TRUE(ParseOpenAiChunk(R"({"choices":[]})", &chunk).ok());
  EXPECT_EQ(chunk.content, "");
  EXPECT_FALSE(chunk.finished);
  ASSERT_TRUE(ParseOpenAiChunk("[DONE]", &chunk).ok());
  ASSERT_TRUE(ParseOpenAiChunk("{}", &chunk).ok());
  EXPECT_FALSE(chunk.done);
}

// What a chunk means, read from a DOM: the reference the streaming parser
// must agree with.
struct Meaning {
  bool json_object = false;
  bool error = false;
  std::string content;
  bool finished = false;
  std::string finish_reason;
  bool usage = false;
  long long prompt_tokens = 0;
  long long completion_tokens = 0;
  bool operator==(const Meaning&) const = default;
};

long long DomCount(const nlohmann::json& usage, const char* key) {
  if (!usage.is_object() || !usage.contains(key)) return 0;
  const nlohmann::json& value = usage[key];
  return value.is_number_integer() && value.get<long long>() >= 0 && !value.is_number_float() ? value.get<long long>()
                                                                                              : 0;
}

Meaning ReadWithDom(const std::string& data) {
  const nlohmann::json doc = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  Meaning meaning;
  meaning.json_object = !doc.is_discarded() && doc.is_object();
  if (!meaning.json_object) return meaning;
  meaning.error = doc.contains("error") && !doc["error"].is_null();
  if (meaning.error) return meaning;
  meaning.usage = doc.contains("usage") && !doc["usage"].is_null();
  if (meaning.usage) {
    meaning.prompt_tokens = DomCount(doc["usage"], "prompt_tokens");
    meaning.completion_tokens = DomCount(doc["usage"], "completion_tokens");
  }
  if (!doc.contains("choices") || !doc["choices"].is_array() || doc["choices"].empty()) return meaning;
  const nlohmann::json& choice = doc["choices"][0];
  if (!choice.is_object()) return meaning;
  if (choice.contains("delta") && choice["delta"].is_object() && choice["delta"].contains("content") &&
      choice["delta"]["content"].is_string()) {
    meaning.content = choice["delta"]["content"].get<std::string>();
  }
  meaning.finished = choice.contains("finish_reason") && !choice["finish_reason"].is_null();
  if (meaning.finished && choice["finish_reason"].is_string()) meaning.finish_reason = choice["finish_reason"];
  return meaning;
}

Meaning ReadWithParser(const std::string& data) {
  OpenAiChunk chunk;
  const Status status = ParseOpenAiChunk(data, &chunk);
  Meaning meaning;
  meaning.json_object = status.ok() || status.code() == StatusCode::kUpstreamError;
  meaning.error = !status.ok() && meaning.json_object;
  meaning.content = chunk.content;
  meaning.finished = chunk.finished;
  meaning.finish_reason = chunk.finish_reason;
  meaning.usage = chunk.has_usage;
  meaning.prompt_tokens = chunk.prompt_tokens;
  meaning.completion_tokens = chunk.completion_tokens;
  return meaning;
}

// Random documents built from the names and shapes that matter (mostly
// well-typed, sometimes not, keys repeated, now and then a byte broken) so
// that every path of the parser meets a DOM's view of the same text.
class ChunkGenerator {
 public:
  explicit ChunkGenerator(unsigned seed) : rng_(seed) {}

  std::string Document() {
    std::string doc = Pick(8) == 0 ? Value(0) : Object(0);
    if (Pick(5) == 0) {
      constexpr std::string_view kBreakers("{}[]\",:x \xFF\0", 12);
      doc[Pick(doc.size())] = kBreakers[Pick(kBreakers.size())];
    }
    return doc;
  }

 private:
  std::size_t Pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

  std::string Object(int depth) {
    static const char* const kKeys[] = {"choices", "delta", "content", "finish_reason", "error",
                                        "message", "x",     "usage",   "prompt_tokens"};
    static const char* const kPath[] = {"choices", "x", "delta", "content", "x"};
    std::string object = "{";
    for (std::size_t i = 0, n = Pick(5); i < n; ++i) {
      // Half the time, the name a chunk has at this depth.
      const std::string key = Pick(2) == 0 ? kPath[std::min(depth, 4)] : kKeys[Pick(std::size(kKeys))];
      object += (i > 0 ? ",\"" : "\"") + key + "\":" + (Pick(3) == 0 ? Value(depth + 1) : Typical(key, depth + 1));
    }
    return object + "}";
  }

  // A value of the type OpenAI sends under `key`.
  std::string Typical(const std::string& key, int depth) {
    if (depth > 6) return "null";
    if (key == "choices") return "[" + Object(depth + 1) + (Pick(2) == 0 ? "," + Object(depth + 1) : "") + "]";
    if (key == "delta") return Object(depth);
    if (key == "content") return Scalar();
    if (key == "finish_reason") return Pick(2) == 0 ? "null" : Pick(2) == 0 ? R"("stop")" : R"("length")";
    if (key == "usage") {
      static const char* const kUsages[] = {"null", R"({"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})",
                                            R"({"completion_tokens":3,"prompt_tokens":-1})", R"({"prompt_tokens":2.0})",
                                            R"({"prompt_tokens":1,"prompt_tokens":4})"};
      return kUsages[Pick(std::size(kUsages))];
    }
    if (key == "error") return Pick(4) == 0 ? R"({"message":"busy"})" : "null";
    return Value(depth);
  }

  std::string Scalar() {
    static const char* const kScalars[] = {"null", "true", "0", "-1.5e3", R"("")", R"("a")",
                                           R"("h\u00e9 \ud83c\udf89")", R"("\"\\\n")", "\"日本\""};
    return kScalars[Pick(std::size(kScalars))];
  }

  std::string Value(int depth) {
    const std::size_t kind = depth > 6 ? 0 : Pick(4);
    if (kind <= 1) return Scalar();
    if (kind == 2) return Object(depth);
    std::string array = "[";
    for (std::size_t i = 0, n = Pick(3); i < n; ++i) array += (i > 0 ? "," : "") + Value(depth + 1);
    return array + "]";
  }

  std::mt19937 rng_;
};

TEST(OpenAiWireTest, AgreesWithADomOnRandomDocuments) {
  ChunkGenerator generator(1234);
  int with_content = 0;
  int finished = 0;
  int errors = 0;
  int scanned = 0;
  int usages = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string doc = generator.Document();
    const Meaning expected = ReadWithDom(doc);
    ASSERT_EQ(ReadWithParser(doc), expected) << doc;
    // The fast scanner alone, where it does not decline.
    ScannedChunk chunk;
    if (ScanOpenAiChunk(doc, &chunk)) {
      ++scanned;
      ASSERT_TRUE(expected.json_object) << doc;
      ASSERT_EQ(chunk.has_error, expected.error) << doc;
      if (!chunk.has_error) {
        ASSERT_EQ(chunk.content, expected.content) << doc;
        ASSERT_EQ(chunk.finished, expected.finished) << doc;
        ASSERT_EQ(chunk.finish_reason, expected.finish_reason) << doc;
        ASSERT_EQ(chunk.has_usage, expected.usage) << doc;
      }
    }
    usages += expected.prompt_tokens > 0 ? 1 : 0;
    with_content += expected.content.empty() ? 0 : 1;
    finished += expected.finished ? 1 : 0;
    errors += expected.error ? 1 : 0;
  }
  // The generator reached the interesting cases, and the scanner took most.
  EXPECT_GT(scanned, 5000);
  EXPECT_GT(with_content, 50);
  EXPECT_GT(finished, 50);
  EXPECT_GT(errors, 50);
  EXPECT_GT(usages, 50);
}

// Per-token speed depends on the scanner taking real chunks; anything it is
// unsure about must be left to the general parser.
TEST(ChunkScannerTest, TakesTypicalChunksAndDeclinesTheUnusual) {
  ScannedChunk chunk;
  ASSERT_TRUE(ScanOpenAiChunk(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini",)"
      R"("system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"h\u00e9 \ud83c\udf89 \"q\"\n"},)"
      R"("logprobs":null,"finish_reason":null}],"usage":null})",
      &chunk));
  EXPECT_EQ(chunk.content, "h\xC3\xA9 \xF0\x9F\x8E\x89 \"q\"\n");
  EXPECT_FALSE(chunk.finished);
  ASSERT_TRUE(ScanOpenAiChunk(R"({"choices":[{"delta":{},"finish_reason":"stop"}]})", &chunk));
  EXPECT_EQ(chunk.content, "");
  EXPECT_TRUE(chunk.finished);
  EXPECT_EQ(chunk.finish_reason, "stop");
  EXPECT_FALSE(chunk.has_usage);
  ASSERT_TRUE(ScanOpenAiChunk(R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})", &chunk));
  EXPECT_TRUE(chunk.has_usage);
  ASSERT_TRUE(ScanOpenAiChunk("{ \"choices\" : [ { \"delta\" : { \"content\" : \"日本\" } } , 7 ] }\r\n", &chunk));
  EXPECT_EQ(chunk.content, "日本");
  ASSERT_TRUE(ScanOpenAiChunk(R"({"error":{"message":"busy"}})", &chunk));
  EXPECT_TRUE(chunk.has_error);

  for (const char* unusual : {
           R"({"choices":[],"choices":[]})",                   // a repeated key on the path
           R"({"choices":[{"delta":{"content":"a","content":"b"}}]})",
           R"({"created":1e9,"choices":[]})",                  // an exponent
           R"({"choices":[{"delta":{"content":"\ud83c"}}]})",  // a lone surrogate
           "{\"choices\":[{\"delta\":{\"content\":\"\xC3\"}}]}",  // broken UTF-8
           "{\"choices\":[{\"delta\":{\"content\":\"\xED\xA0\x80\"}}]}",  // an encoded surrogate
           "{\"choices\":[{\"delta\":{\"content\":\"a\tb\"}}]}",  // a raw control character
           R"({"choices":[]} x)", R"({"choices":[]}{})", R"([{"choices":[]}])", "", "{",
           R"({"choices":[01]})", R"({"choices":[-]})", R"({"choices":[tru]})", R"({"a":"\x"})",
           "\xEF\xBB\xBF{}",  // a byte-order mark
       }) {
    EXPECT_FALSE(ScanOpenAiChunk(unusual, &chunk)) << unusual;
  }
}

TEST(OpenAiWireTest, ExtractsMessagesFromErrorBodies) {
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":{"message":"Incorrect API key provided"}})"),
            "Incorrect API key provided");
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":"model not found"})"), "model not found");
  EXPECT_EQ(UpstreamErrorMessage(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(UpstreamErrorMessage("  Bad gateway\n"), "Bad gateway");
  EXPECT_EQ(UpstreamErrorMessage(""), "");
  // As @dwmkerr/mock-llm answers a request it cannot template:
  EXPECT_EQ(UpstreamErrorMessage(R"({"error":"SyntaxError","message":"Expected ',' at 171","status":500})"),
            "SyntaxError: Expected ',' at 171");
  EXPECT_EQ(UpstreamErrorMessage(std::string(300, 'a')), std::string(200, 'a') + "...");
}

TEST(OpenAiWireTest, AbbreviateNeverSplitsACharacter) {
  const std::string text = "ab日本";  // 2 + 3 + 3 bytes
  EXPECT_EQ(Abbreviate(text, 4), "ab...");
  EXPECT_EQ(Abbreviate(text, 5), "ab日...");
  EXPECT_EQ(Abbreviate(text, 8), "ab日本");
  EXPECT_EQ(Abbreviate("line1\nline2", 50), "line1 line2");
}

TEST(OpenAiWireTest, RedactsEveryOccurrence) {
  EXPECT_EQ(RedactSecret("key sk-1 and sk-1", "sk-1"), "key [redacted] and [redacted]");
  EXPECT_EQ(RedactSecret("nothing", ""), "nothing");
}

TEST(OpenAiWireTest, UrlForDisplayDropsUserInfo) {
  EXPECT_EQ(UrlForDisplay("https://user:pw@example.com/v1"), "https://example.com/v1");
  EXPECT_EQ(UrlForDisplay("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080/v1");
  EXPECT_EQ(UrlForDisplay("http://host/v1?x=a@b"), "http://host/v1?x=a@b");
}

TEST(OpenAiWireTest, BuildsStreamingRequestBody) {
  ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {{"system", "Be brief."}, {"user", "héllo \"you\""}};
  auto body = nlohmann::json::parse(BuildChatRequestBody(request));
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["messages"][1]["content"], "héllo \"you\"");
  EXPECT_EQ(body["stream_options"], (nlohmann::json{{"include_usage", true}}));
  EXPECT_FALSE(body.contains("temperature"));
  EXPECT_FALSE(body.contains("max_tokens"));
  EXPECT_FALSE(body.contains("top_p"));

  request.temperature = 0.25;
  request.top_p = 0.5;
  request.max_tokens = 64;
  body = nlohmann::json::parse(BuildChatRequestBody(request));
  EXPECT_EQ(body["temperature"], 0.25);
  EXPECT_EQ(body["top_p"], 0.5);
  EXPECT_EQ(body["max_tokens"], 64);
}

}  // namespace
}  // namespace flowrun
