// The OpenAI wire shapes, byte for byte: error bodies, the chunk stream
// (role once, one finish_reason, the usage chunk, [DONE], a mid-stream
// error) and the one-shot chat.completion.
#include "server/openai_format.h"

#include <gtest/gtest.h>

namespace flowrun {
namespace {

const CompletionHeader kHeader{"chatcmpl-r1", 1700000000, "chat"};

Event ErrorEvent(const std::string& text, const std::string& step) {
  Event event;
  event.type = Event::Type::kError;
  event.text = text;
  event.step = step;
  return event;
}

RunResult Finished(long long prompt = 0, long long completion = 0, bool length = false) {
  RunResult result;
  result.ok = true;
  result.counters.prompt_tokens = prompt;
  result.counters.completion_tokens = completion;
  result.counters.stopped_on_length = length;
  return result;
}

const char kPrefix[] = R"(data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,"model":"chat","choices":[)";

TEST(OpenAiFormat, ErrorBodyHasEveryFieldAndATypeForItsStatus) {
  EXPECT_EQ(OpenAiErrorBody(400, "bad", "n").dump(),
            R"({"error":{"message":"bad","type":"invalid_request_error","param":"n","code":null}})");
  EXPECT_EQ(OpenAiErrorBody(401, "no key", "", "invalid_api_key").dump(),
            R"({"error":{"message":"no key","type":"authentication_error","param":null,"code":"invalid_api_key"}})");
  EXPECT_EQ(OpenAiErrorBody(429, "busy")["error"]["type"], "rate_limit_error");
  EXPECT_EQ(OpenAiErrorBody(403, "no")["error"]["type"], "permission_error");
  EXPECT_EQ(OpenAiErrorBody(503, "later")["error"]["type"], "server_error");
  HttpResponse response = OpenAiError(404, "model 'x' is not served here", "model", "model_not_found");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body,
            "{\"error\":{\"message\":\"model 'x' is not served here\",\"type\":\"invalid_request_error\","
            "\"param\":\"model\",\"code\":\"model_not_found\"}}\n");
}

TEST(OpenAiFormat, NativeErrorsAreRewrittenKeepingStatusAndHeaders) {
  HttpResponse response;
  response.status = 401;
  response.body = R"({"error":"missing or invalid API key; send Authorization: Bearer <key>"})";
  response.headers = {{"WWW-Authenticate", "Bearer"}};
  ToOpenAiError(response);
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.body,
            "{\"error\":{\"message\":\"missing or invalid API key; send Authorization: Bearer <key>\","
            "\"type\":\"authentication_error\",\"param\":null,\"code\":\"invalid_api_key\"}}\n");
  ASSERT_EQ(response.headers.size(), 1u);

  HttpResponse busy;
  busy.status = 429;
  busy.body = R"({"error":"the server is at its limit of 1 concurrent streams; retry shortly"})";
  ToOpenAiError(busy);
  EXPECT_EQ(busy.body,
            "{\"error\":{\"message\":\"the server is at its limit of 1 concurrent streams; retry shortly\","
            "\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}\n");

  HttpResponse field;
  field.status = 400;
  field.body = R"({"error":"input 'x' is required","field":"x"})";
  ToOpenAiError(field);
  EXPECT_EQ(field.body,
            "{\"error\":{\"message\":\"input 'x' is required\",\"type\":\"invalid_request_error\","
            "\"param\":\"x\",\"code\":null}}\n");

  HttpResponse ok;  // not an error: untouched
  ok.body = R"({"error":"not really"})";
  ToOpenAiError(ok);
  EXPECT_EQ(ok.body, R"({"error":"not really"})");
}

TEST(OpenAiFormat, StreamSendsRoleOnceThenContentThenOneFinishAndDone) {
  OpenAiChunkEncoder encoder(kHeader, false);
  std::string out;
  encoder.Begin(out);
  encoder.Chunk("Hel", out);
  encoder.Chunk("lo \"x\"\n", out);
  StreamEncoder::End end = encoder.Finish(Finished(), out);
  EXPECT_EQ(end.status, 200);
  const std::string p = kPrefix;
  EXPECT_EQ(out,
            p + R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{"content":"lo \"x\"\n"},"logprobs":null,"finish_reason":null}]})" "\n\n" +
            p + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})" "\n\n"
            "data: [DONE]\n\n");
  EXPECT_EQ(encoder.Heartbeat(), ": ping\n\n");
}

TEST(OpenAiFormat, IncludeUsageAddsNullUsageEverywhereAndAUsageChunkLast) {
  OpenAiChunkEncoder encoder(kHeader, true);
  std::string out;
  encoder.Begin(out);
  encoder.Chunk("Hi", out);
  encoder.Finish(Finished(12, 3, true), out);
  const std::string p = kPrefix;
  EXPECT_EQ(out,
            p + R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null})" "\n\n" +
            p + R"({"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null})" "\n\n" +
            p + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":null})" "\n\n" +
            p + R"(],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})" "\n\n"
            "data: [DONE]\n\n");
}

TEST(OpenAiFormat, AMidStreamErrorIsAnErrorObjectThenDoneAndNoFinishReason) {
  OpenAiChunkEncoder encoder(kHeader, true);
  std::string out;
  encoder.Begin(out);
  encoder.Chunk("Hi", out);
  out.clear();
  encoder.Error(ErrorEvent("upstream stream ended before the answer finished", "reply"), out);
  RunResult failed;
  failed.error = "upstream stream ended before the answer finished";
  failed.error_step = "reply";
  encoder.Finish(failed, out);
  EXPECT_EQ(out,
            "data: {\"error\":{\"message\":\"step 'reply' failed: upstream stream ended before the answer "
            "finished\",\"type\":\"server_error\",\"param\":null,\"code\":\"flow_failed\"}}\n\n"
            "data: [DONE]\n\n");
}

TEST(OpenAiFormat, AFailedRunWithoutAnErrorEventStillEndsWithAnError) {
  OpenAiChunkEncoder encoder(kHeader, false);
  std::string out;
  RunResult failed;
  failed.error = "client disconnected";
  encoder.Finish(failed, out);
  EXPECT_EQ(out,
            "data: {\"error\":{\"message\":\"client disconnected\",\"type\":\"server_error\",\"param\":null,"
            "\"code\":\"flow_failed\"}}\n\ndata: [DONE]\n\n");
}

TEST(OpenAiFormat, CompletionHoldsTheStreamedTextAndUsage) {
  OpenAiCompletionEncoder encoder(kHeader);
  std::string out;
  encoder.Begin(out);
  encoder.Chunk("Hel", out);
  encoder.Chunk("lo", out);
  EXPECT_EQ(out, "");  // nothing before the end
  EXPECT_EQ(encoder.Heartbeat(), "");
  StreamEncoder::End end = encoder.Finish(Finished(5, 2), out);
  EXPECT_EQ(end.status, 200);
  EXPECT_EQ(end.content_type, "application/json");
  EXPECT_EQ(out,
            R"({"id":"chatcmpl-r1","object":"chat.completion","created":1700000000,"model":"chat",)"
            R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},)"
            R"("logprobs":null,"finish_reason":"stop"}],)"
            R"("usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})" "\n");
}

TEST(OpenAiFormat, AFailedCompletionIsAnErrorStatus) {
  OpenAiCompletionEncoder encoder(kHeader);
  std::string out;
  encoder.Chunk("partial", out);
  encoder.Error(ErrorEvent("upstream returned HTTP 401: bad key", "reply"), out);
  RunResult failed;
  failed.counters.upstream_errors = 1;
  StreamEncoder::End end = encoder.Finish(failed, out);
  EXPECT_EQ(end.status, 502);
  EXPECT_EQ(out,
            "{\"error\":{\"message\":\"step 'reply' failed: upstream returned HTTP 401: bad key\","
            "\"type\":\"server_error\",\"param\":null,\"code\":\"flow_failed\"}}\n");

  OpenAiCompletionEncoder other(kHeader);
  std::string text;
  other.Error(ErrorEvent("cannot answer: hi", "fallback"), text);
  RunResult failed_here;
  EXPECT_EQ(other.Finish(failed_here, text).status, 500);
  EXPECT_EQ(text,
            "{\"error\":{\"message\":\"step 'fallback' failed: cannot answer: hi\",\"type\":\"server_error\","
            "\"param\":null,\"code\":\"flow_failed\"}}\n");
}

}  // namespace
}  // namespace flowrun
