// The http step's network-free parts: the literal origin of a url template,
// header values with ${env.NAME}, query encoding, and the response as the
// step's output (JSON parsed, text kept, bad UTF-8 replaced, deep JSON kept
// as text, secrets redacted).
#include "steps/http_request.h"

#include <gtest/gtest.h>

#include <map>

namespace flowrun {
namespace {

using nlohmann::json;

std::string OriginOf(const std::string& url) {
  std::string origin;
  Status status = LiteralOrigin(url, &origin);
  return status.ok() ? origin : "error: " + status.message();
}

TEST(HttpRequest, TheSchemeAndHostMustBeLiteral) {
  EXPECT_EQ(OriginOf("https://api.example.com/orders/{{ input.id }}"), "https://api.example.com");
  EXPECT_EQ(OriginOf("http://127.0.0.1:8080?q={{ input.q }}"), "http://127.0.0.1:8080");
  EXPECT_EQ(OriginOf("HTTPS://api.example.com"), "HTTPS://api.example.com");
  const std::string literal =
      "error: 'url' must name its scheme and host literally, before any {{ }}, so that no request value can "
      "choose where flowrun connects";
  EXPECT_EQ(OriginOf("https://{{ input.host }}/x"), literal);
  EXPECT_EQ(OriginOf("https://api.example.com{{ input.path }}"), literal);  // the host is not closed yet
  EXPECT_EQ(OriginOf("https://api.{% if x %}a{% endif %}.com/"), literal);
  EXPECT_EQ(OriginOf("{{ input.url }}"), "error: 'url' must start with http:// or https://, written out in the flow");
  EXPECT_EQ(OriginOf("ftp://files.example.com/x"),
            "error: 'url' must start with http:// or https://, written out in the flow");
  EXPECT_EQ(OriginOf("https:///path"), "error: 'url' has no host");
  EXPECT_EQ(OriginOf("https://user:pw@api.example.com/"),
            "error: 'url' may not hold a user name or password: send credentials in 'headers'");
}

std::function<std::optional<std::string>(const std::string&)> Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

TEST(HttpRequest, HeaderValuesReadTheEnvironmentOnceAndTemplatesPerRun) {
  std::string error;
  auto value = HeaderValue::Compile("Bearer ${env.CRM_TOKEN} for {{ input.user }}", Env({{"CRM_TOKEN", "t0k"}}),
                                    &error);
  ASSERT_TRUE(value) << error;
  std::string out;
  ASSERT_TRUE(value->Render({{"input", {{"user", "ann"}}}}, &out).ok());
  EXPECT_EQ(out, "Bearer t0k for ann");
  EXPECT_EQ(value->secrets(), std::vector<std::string>{"t0k"});
  // Text from the state is never read for references: it stays as it is.
  ASSERT_TRUE(value->Render({{"input", {{"user", "${env.CRM_TOKEN}"}}}}, &out).ok());
  EXPECT_EQ(out, "Bearer t0k for ${env.CRM_TOKEN}");

  auto unset = HeaderValue::Compile("Bearer ${env.NOPE}", Env({}), &error);
  ASSERT_TRUE(unset);
  Status rendered = unset->Render(json::object(), &out);
  EXPECT_EQ(rendered.message(), "needs the environment variable NOPE, which is not set");

  EXPECT_FALSE(HeaderValue::Compile("Bearer ${env.}", Env({}), &error));
  EXPECT_EQ(error, "'${env.' needs a variable name (letters, digits, '_') and a closing '}'");
  EXPECT_FALSE(HeaderValue::Compile("Bearer ${env.X", Env({}), &error));
  EXPECT_FALSE(HeaderValue::Compile("{{ input.x ", Env({}), &error));
}

TEST(HttpRequest, QueryValuesArePercentEncoded) {
  EXPECT_EQ(PercentEncode("a b&c=d/é~_.-"), "a%20b%26c%3Dd%2F%C3%A9~_.-");
  std::string url = "https://api.example.com/search";
  ASSERT_TRUE(AppendQuery({{"q", "cats & dogs"}, {"n", 3}, {"exact", true}, {"skip", nullptr}, {"tag", {"a", "b"}}},
                          &url)
                  .ok());
  EXPECT_EQ(url, "https://api.example.com/search?exact=true&n=3&q=cats%20%26%20dogs&tag=a&tag=b");
  std::string more = "https://api.example.com/search?lang=en#top";
  ASSERT_TRUE(AppendQuery({{"q", "x"}}, &more).ok());
  EXPECT_EQ(more, "https://api.example.com/search?lang=en&q=x");
  Status bad = AppendQuery({{"filter", {{"a", 1}}}}, &more);
  EXPECT_EQ(bad.message(), "query 'filter' must be text, a number, a boolean or a list of them, got object");
}

TEST(HttpRequest, TheResponseBecomesStatusHeadersAndBody) {
  HttpAnswer answer;
  answer.status = 201;
  answer.headers = {{"content-type", "application/json; charset=utf-8"}, {"x-id", "1"}, {"x-id", "2"}};
  answer.body = R"({"order": {"id": 7}, "echo": "Bearer s3cret"})";
  json out = ResponseOutput(answer, {"s3cret"});
  EXPECT_EQ(out["status"], 201);
  EXPECT_EQ(out["headers"]["x-id"], "1, 2");
  EXPECT_EQ(out["body"]["order"]["id"], 7);
  EXPECT_EQ(out["body"]["echo"], "Bearer [redacted]");

  answer.headers = {{"content-type", "text/plain"}};
  answer.body = "plain \xff text";
  out = ResponseOutput(answer, {});
  EXPECT_EQ(out["body"], "plain \xEF\xBF\xBD text");  // bad UTF-8 replaced, never a throw later

  answer.headers = {{"content-type", "application/json"}};
  answer.body = "{not json";
  EXPECT_EQ(ResponseOutput(answer, {})["body"], "{not json");
  answer.body = "null";
  EXPECT_TRUE(ResponseOutput(answer, {})["body"].is_null());
  answer.body = std::string(100000, '[') + std::string(100000, ']');  // would recurse 100 000 deep
  EXPECT_TRUE(ResponseOutput(answer, {})["body"].is_string());
}

TEST(HttpRequest, RedactReplacesEverySecret) {
  EXPECT_EQ(Redact("a s1 b s2 s1", {"s1", "s2", ""}), "a [redacted] b [redacted] [redacted]");
}

}  // namespace
}  // namespace flowrun
