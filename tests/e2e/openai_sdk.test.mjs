// The official `openai` npm package (pinned in package-lock.json) against `flowrun serve`'s
// OpenAI-compatible endpoints (/v1/chat/completions, /v1/models), on loopback, with API keys on.
// Flows: two on the offline mock (a fixed reply, and one cut by max_tokens) and three on a fake
// OpenAI upstream started here (one that reports usage, one that drops the connection mid-answer,
// one that trickles keep-alives until its client goes away, so the test sees the transfer end).
//
//   node --test-reporter=spec tests/e2e/openai_sdk.test.mjs   (uses build/flowrun, or FLOWRUN_BIN)
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { chatFlow, fetchWithTimeout, getJson, makeTempDir, metricValue, startFlowrun, waitUntil } from "./lib.mjs";

const tmp = makeTempDir("flowrun-e2e-openai-sdk-");
const KEY = "e2e-sdk-key-0123456789abcdef";
// The mock's answer for `chat`, and what it counts: the prompt is the flow's system prompt
// ("You are a helpful assistant.", 5 words) plus the messages sent; the completion its 6 tokens.
const REPLY = "Hi Ada, nice to meet you.";
const MESSAGES = [{ role: "user", content: "Say hi to Ada" }];
const PROMPT_TOKENS = 5 + 4;
const COMPLETION_TOKENS = 6;

let server, upstream, client;

// A fake OpenAI-compatible upstream; what it does depends on the first part of the path
// (each flow's base_url is http://127.0.0.1:<port>/<behaviour>/v1).
const upstreamSeen = { requests: [], hangClosedAt: null, hangOpen: 0 };
function chunk(delta, finishReason = null) {
  return `data: ${JSON.stringify({
    id: "chatcmpl-up", object: "chat.completion.chunk", created: 1700000000, model: "up",
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  })}\n\n`;
}
function startUpstream() {
  const fake = http.createServer((req, res) => {
    let body = "";
    req.on("data", (data) => { body += data; });
    req.on("end", () => {
      const request = JSON.parse(body);
      upstreamSeen.requests.push(request);
      const behaviour = req.url.split("/")[1];
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      if (behaviour === "usage") {
        res.write(chunk({ role: "assistant", content: "" }));
        res.write(chunk({ content: "Counted" }));
        res.write(chunk({ content: " answer." }));
        res.write(chunk({}, "stop"));
        res.write(`data: ${JSON.stringify({ id: "chatcmpl-up", object: "chat.completion.chunk", choices: [],
          usage: { prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 } })}\n\n`);
        res.end("data: [DONE]\n\n");
      } else if (behaviour === "drop") {
        res.write(chunk({ content: "Partial" }));
        res.write(chunk({ content: " answer" }));
        setTimeout(() => res.socket.destroy(), 100);  // no finish_reason, no [DONE], no last chunk
      } else if (behaviour === "hang") {
        upstreamSeen.hangOpen++;
        res.write(chunk({ content: "Thinking" }));
        const timer = setInterval(() => res.write(": keep-alive\n\n"), 50);
        res.on("close", () => {
          clearInterval(timer);
          upstreamSeen.hangOpen--;
          upstreamSeen.hangClosedAt = performance.now();
        });
      } else {
        res.end(`data: {"error": {"message": "the fake upstream has no behaviour '${behaviour}'"}}\n\n`);
      }
    });
  });
  return new Promise((resolve) => fake.listen(0, "127.0.0.1", () => resolve(fake)));
}

before(async () => {
  upstream = await startUpstream();
  const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;
  const flows = path.join(tmp, "flows");
  fs.mkdirSync(flows);
  const real = (behaviour) => ({ provider: "openai", base_url: `${upstreamUrl}/${behaviour}/v1`, max_attempts: 1 });
  fs.writeFileSync(path.join(flows, "chat.yaml"), chatFlow({ name: "chat", endpoint: "/chat", llm: { mock_reply: REPLY } }));
  fs.writeFileSync(path.join(flows, "capped.yaml"), chatFlow({
    name: "capped", endpoint: "/capped", llm: { mock_reply: "one two three four five", max_tokens: 3 },
  }));
  fs.writeFileSync(path.join(flows, "metered.yaml"), chatFlow({ name: "metered", endpoint: "/metered", llm: real("usage") }));
  fs.writeFileSync(path.join(flows, "flaky.yaml"), chatFlow({ name: "flaky", endpoint: "/flaky", llm: real("drop") }));
  fs.writeFileSync(path.join(flows, "hang.yaml"), chatFlow({ name: "hang", endpoint: "/hang", llm: real("hang") }));
  const keys = path.join(tmp, "keys.txt");
  fs.writeFileSync(keys, KEY + "\n");
  server = await startFlowrun(flows, { name: "flowrun", logDir: tmp, args: ["--api-key-file", keys] });
  client = new OpenAI({ apiKey: KEY, baseURL: server.url + "/v1", maxRetries: 0, timeout: 20000 });
});

after(async () => {
  await server?.stop();
  upstream?.closeAllConnections();
  await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve()));
});

// Reads a streamed completion to its end: the chunks, the text, and the finish reasons seen.
async function collect(stream) {
  const result = { chunks: [], text: "", finishReasons: [], roles: [] };
  for await (const part of stream) {
    result.chunks.push(part);
    for (const choice of part.choices) {
      if (choice.delta?.role !== undefined) result.roles.push(choice.delta.role);
      result.text += choice.delta?.content ?? "";
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) result.finishReasons.push(choice.finish_reason);
    }
  }
  return result;
}

test("models.list() lists every flow as a model owned by flowrun", async () => {
  const page = await client.models.list();
  const ids = page.data.map((model) => model.id).sort();
  assert.deepEqual(ids, ["capped", "chat", "flaky", "hang", "metered"]);
  for (const model of page.data) {
    assert.equal(model.object, "model");
    assert.equal(model.owned_by, "flowrun");
    assert.ok(Number.isInteger(model.created), JSON.stringify(model));
  }
});

test("chat.completions.create({stream: false}) returns the flow's answer with usage", async () => {
  const completion = await client.chat.completions.create({ model: "chat", messages: MESSAGES, stream: false });
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.model, "chat");
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0].message.role, "assistant");
  assert.equal(completion.choices[0].message.content, REPLY);
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.deepEqual(
    { prompt_tokens: completion.usage.prompt_tokens, completion_tokens: completion.usage.completion_tokens,
      total_tokens: completion.usage.total_tokens },
    { prompt_tokens: PROMPT_TOKENS, completion_tokens: COMPLETION_TOKENS, total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS });
});

test("chat.completions.create({stream: true}) iterates chunks: one role, the text, one finish_reason", async () => {
  const stream = await client.chat.completions.create({ model: "chat", messages: MESSAGES, stream: true });
  const result = await collect(stream);
  assert.equal(result.text, REPLY);
  assert.deepEqual(result.roles, ["assistant"]);
  assert.equal(result.chunks[0].choices[0].delta.role, "assistant");
  assert.deepEqual(result.finishReasons, ["stop"]);
  const { id, created, model } = result.chunks[0];
  for (const part of result.chunks) {
    assert.equal(part.object, "chat.completion.chunk");
    assert.deepEqual({ id: part.id, created: part.created, model: part.model }, { id, created, model });
  }
  assert.equal(model, "chat");
  // Without stream_options.include_usage, no usage chunk.
  assert.ok(result.chunks.every((part) => part.choices.length === 1), JSON.stringify(result.chunks));
});

test("the .stream() helper's finalChatCompletion() assembles the answer", async () => {
  const runner = client.chat.completions.stream({ model: "chat", messages: MESSAGES });
  const deltas = [];
  runner.on("content", (delta) => deltas.push(delta));
  const completion = await runner.finalChatCompletion();
  assert.equal(completion.choices[0].message.role, "assistant");
  assert.equal(completion.choices[0].message.content, REPLY);
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.equal(deltas.join(""), REPLY);
  assert.ok(deltas.length > 1, `the answer arrived in ${deltas.length} piece(s)`);
});

test("stream_options.include_usage ends with a usage chunk; every earlier chunk has usage null", async () => {
  const stream = await client.chat.completions.create({
    model: "chat", messages: MESSAGES, stream: true, stream_options: { include_usage: true },
  });
  const result = await collect(stream);
  assert.equal(result.text, REPLY);
  const last = result.chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual({ ...last.usage }, {
    prompt_tokens: PROMPT_TOKENS, completion_tokens: COMPLETION_TOKENS, total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS,
  });
  for (const part of result.chunks.slice(0, -1)) assert.equal(part.usage, null, JSON.stringify(part));
});

test("usage is what the upstream reported, asked for with include_usage", async () => {
  const before = upstreamSeen.requests.length;
  const stream = await client.chat.completions.create({
    model: "metered", messages: MESSAGES, stream: true, stream_options: { include_usage: true },
  });
  const result = await collect(stream);
  assert.equal(result.text, "Counted answer.");
  assert.deepEqual({ ...result.chunks.at(-1).usage }, { prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 });
  const sent = upstreamSeen.requests.slice(before);
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0].stream_options, { include_usage: true });
});

test("a flow cut by its token limit finishes with finish_reason length", async () => {
  const stream = await client.chat.completions.create({ model: "capped", messages: MESSAGES, stream: true });
  const result = await collect(stream);
  assert.equal(result.text, "one two three");
  assert.deepEqual(result.finishReasons, ["length"]);
  const completion = await client.chat.completions.create({ model: "capped", messages: MESSAGES });
  assert.equal(completion.choices[0].finish_reason, "length");
});

test("an error mid-stream is an error in the SDK, never a finished answer", async () => {
  const stream = await client.chat.completions.create({ model: "flaky", messages: MESSAGES, stream: true });
  let text = "";
  const finishReasons = [];
  await assert.rejects(async () => {
    for await (const part of stream) {
      text += part.choices[0]?.delta?.content ?? "";
      if (part.choices[0]?.finish_reason) finishReasons.push(part.choices[0].finish_reason);
    }
  }, (err) => {
    assert.ok(err instanceof OpenAI.APIError, `${err?.constructor?.name}: ${err?.message}`);
    assert.match(err.message, /upstream stream ended before the answer finished/);
    return true;
  });
  assert.equal(text, "Partial answer");
  assert.deepEqual(finishReasons, []);
  // The helper, too, rejects rather than resolving with the partial text.
  await assert.rejects(client.chat.completions.stream({ model: "flaky", messages: MESSAGES }).finalChatCompletion(),
    OpenAI.APIError);
});

test("a wrong key is an AuthenticationError", async () => {
  const stranger = new OpenAI({ apiKey: "not-the-key-0123456789", baseURL: server.url + "/v1", maxRetries: 0 });
  await assert.rejects(stranger.chat.completions.create({ model: "chat", messages: MESSAGES }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 401);
    return true;
  });
  await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
});

test("an aborted request (AbortController) cancels the run and its upstream transfer", async () => {
  const controller = new AbortController();
  const stream = await client.chat.completions.create({ model: "hang", messages: MESSAGES, stream: true },
    { signal: controller.signal });
  let text = "";
  let abortedAt = null;
  for await (const part of stream) {  // the SDK ends the iteration quietly on its own abort
    text += part.choices[0]?.delta?.content ?? "";
    if (text && abortedAt === null) {
      assert.equal(upstreamSeen.hangOpen, 1, "the upstream transfer is open while the answer streams");
      abortedAt = performance.now();
      controller.abort();
    }
  }
  assert.equal(text, "Thinking");
  await waitUntil(() => upstreamSeen.hangOpen === 0 && upstreamSeen.hangClosedAt !== null,
    { timeoutMs: 5000, what: "the upstream transfer to end after the abort" });
  assert.ok(upstreamSeen.hangClosedAt - abortedAt < 5000);
  await waitUntil(async () => (await getJson(server.url + "/healthz")).streams === 0,
    { timeoutMs: 5000, what: "GET /healthz streams == 0 after the abort" });
  const res = await fetchWithTimeout(server.url + "/metrics", { headers: { Authorization: `Bearer ${KEY}` } });
  const text2 = await res.text();
  assert.equal(metricValue(text2, "flowrun_streams_total", { flow: "hang", outcome: "client_gone" }), 1, text2);
});
