// Playground end-to-end test: Debian's headless Chromium, driven by playwright-core, against
// `flowrun serve` on loopback with three flows (fast mock, slow mock, unreachable upstream).
//
//   node --test-reporter=spec tests/e2e/playground.test.mjs
//   UPDATE_SCREENSHOT=1 ... also rewrites docs/playground.png and docs/playground-graph.png
//   (otherwise they go to a temp dir)
//   CHROMIUM=/path/to/chromium to use another browser binary
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, chatFlow, getJson, makeTempDir, metrics, metricValue, sleep, startFlowrun, streamChat, waitUntil } from "./lib.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const tmp = makeTempDir("flowrun-e2e-playground-");
const screenshotDir = process.env.UPDATE_SCREENSHOT === "1" ? path.join(ROOT, "docs") : tmp;
const screenshotPath = path.join(screenshotDir, "playground.png");
const graphScreenshotPath = path.join(screenshotDir, "playground-graph.png");

let server, context, page;
const requests = [];  // POST bodies the page sent, in order

const t0 = performance.now();
before(async () => {
  const flows = path.join(tmp, "flows");
  fs.mkdirSync(flows);
  fs.writeFileSync(path.join(flows, "chat.yaml"), chatFlow({
    name: "chat", endpoint: "/chat",
    description: "A helpful assistant that remembers the conversation.",
    llm: { mock_delay_ms: 20 },
  }));
  fs.writeFileSync(path.join(flows, "slow.yaml"), chatFlow({
    name: "slow-chat", endpoint: "/slow", description: "The same chat, 300 ms per token.",
    llm: { mock_delay_ms: 300 },
  }));
  fs.writeFileSync(path.join(flows, "broken.yaml"), chatFlow({
    name: "broken-upstream", endpoint: "/broken", description: "An OpenAI-compatible upstream that refuses connections.",
    llm: { provider: "openai", base_url: "http://127.0.0.1:1/v1", max_attempts: 1 },
  }));
  server = await startFlowrun(flows, { name: "flowrun", logDir: tmp });

  // A persistent context on a fresh, empty profile directory (--user-data-dir).
  context = await chromium.launchPersistentContext(path.join(tmp, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage",
    ],
    viewport: { width: 1100, height: 800 },
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(10000);
  page = await context.newPage();
  page.on("pageerror", (err) => console.error("page error:", err.message));
  page.on("request", (req) => {
    if (req.method() === "POST") requests.push({ url: req.url(), body: JSON.parse(req.postData() || "null") });
  });
  await page.goto(server.url + "/");
  await page.waitForFunction(() => document.querySelectorAll("#flow-select option").length === 3);
  console.log(`# flowrun and chromium up, page loaded in ${Math.round(performance.now() - t0)} ms`);
});

after(async () => {
  let t = performance.now();
  await context?.close().catch((err) => console.error("closing chromium:", err.message));
  console.log(`# chromium closed in ${Math.round(performance.now() - t)} ms`);
  t = performance.now();
  const info = await server?.stop();
  console.log(`# flowrun stopped in ${Math.round(performance.now() - t)} ms`);
  if (info && info.code !== 0) console.error(`flowrun exited with ${JSON.stringify(info)}; log: ${server.logFile}`);
});

// Selects a flow by its label, e.g. "chat (/chat)", and waits for its graph.
async function pickFlow(label) {
  await page.selectOption("#flow-select", { label });
  await page.waitForFunction((l) => {
    const s = document.querySelector("#flow-select");
    return s.options[s.selectedIndex].textContent === l &&
      document.querySelector("#graph").dataset.flow === l.slice(0, l.indexOf(" ("));
  }, label);
}

// Starts recording every distinct length the newest assistant message has while it streams.
async function recordGrowth() {
  await page.evaluate(() => {
    window.__lengths = [];
    window.__observer?.disconnect();
    const transcript = document.querySelector("#transcript");
    window.__observer = new MutationObserver(() => {
      const el = transcript.querySelector(".message.assistant.streaming");
      const n = el ? el.firstChild.data.length : -1;
      if (n > 0 && window.__lengths.at(-1) !== n) window.__lengths.push(n);
    });
    window.__observer.observe(transcript, { subtree: true, childList: true, characterData: true });
  });
}

async function send(text) {
  await page.fill("#message-input", text);
  await page.click("#send-button");
}

// Sends a message and waits until its reply has finished (the page is idle again). The user
// bubble and data-state=streaming appear together, so "one more user bubble and idle" cannot
// be satisfied before the request even started, however fast the reply is.
async function sendAndWait(text, timeout = 15000) {
  const users = await page.locator(".message.user").count();
  await send(text);
  await page.waitForFunction((n) => document.querySelectorAll(".message.user").length === n + 1 &&
    document.body.dataset.state === "idle", users, { timeout });
}

async function waitIdle(timeout = 15000) {
  await page.waitForFunction(() => document.body.dataset.state === "idle", null, { timeout });
}

const lastAssistant = () => page.locator(".message.assistant").last();

test("a reply streams token by token and equals the mock's answer", async () => {
  await pickFlow("chat (/chat)");
  const message = "Hello! What can flowrun do?";
  const expected = (await streamChat(server.url + "/chat", { message })).text;
  assert.ok(expected.startsWith(`You said: "${message}". This is flowrun's mock model;`), expected);

  await recordGrowth();
  await sendAndWait(message);

  const lengths = await page.evaluate(() => window.__lengths);
  const partial = lengths.filter((n) => n < expected.length);
  console.log(`# streaming: ${partial.length} partial lengths before the final ${expected.length} characters`);
  assert.ok(partial.length >= 3, `expected at least 3 partial lengths while streaming, saw ${JSON.stringify(lengths)}`);
  assert.deepEqual(lengths, [...lengths].sort((a, b) => a - b), "the text only grows");
  assert.equal(await page.locator(".message.user").last().textContent(), message);
  assert.equal(await lastAssistant().textContent(), expected);
  assert.equal(await page.locator(".message.streaming").count(), 0);
  assert.equal(await page.locator(".message.error").count(), 0);
  assert.match(await page.textContent("#status"), /^chat: first token in \d+ ms · \d+ chunks/);
  assert.equal(requests.at(-1).url, server.url + "/chat?events=all");
  assert.deepEqual(requests.at(-1).body, { message, history: [] });
});

test("the second turn sends the first turn as history", async () => {
  const first = requests.at(-1).body.message;
  const firstReply = await page.locator(".message.assistant").first().textContent();
  const message = "Can it stream through nginx?";
  await sendAndWait(message);
  assert.deepEqual(requests.at(-1).body, {
    message,
    history: [{ role: "user", content: first }, { role: "assistant", content: firstReply }],
  });
  assert.match(await lastAssistant().textContent(), /^You said: "Can it stream through nginx\?"\./);
  assert.equal(await page.locator(".message.assistant").count(), 2);

  // A finished two-turn conversation: the picture in docs/.
  await page.locator("#message-input").blur();
  await page.screenshot({ path: screenshotPath });
  assert.ok(fs.statSync(screenshotPath).size > 10000, "screenshot written");
});

// Records every change of a graph node's data-state, in order, as "path:old>new".
async function recordGraph() {
  await page.evaluate(() => {
    window.__graphRecords = [];
    window.__graphObserver?.disconnect();
    window.__graphObserver = new MutationObserver((records) => {
      for (const r of records) window.__graphRecords.push({ el: r.target, old: r.oldValue });
    });
    window.__graphObserver.observe(document.querySelector("#graph"),
      { subtree: true, attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
  });
}
async function graphTransitions() {
  return page.evaluate(() => {
    window.__graphObserver.takeRecords().forEach((r) => window.__graphRecords.push({ el: r.target, old: r.oldValue }));
    const records = window.__graphRecords;
    // A record holds the old value; the new one is the next record's old value (or the current one).
    return records.map((r, i) => {
      const next = records.slice(i + 1).find((later) => later.el === r.el);
      return `${r.el.dataset.path}:${r.old}>${next ? next.old : r.el.dataset.state}`;
    }).filter((t) => !/:(\w+)>\1$/.test(t));
  });
}
const graphPaths = () => page.$$eval("#graph .node", (nodes) => nodes.map((n) => n.dataset.path));
const nodeState = (p) => page.$eval(`#graph .node[data-path="${p}"]`, (n) => n.dataset.state);
const nodeStatus = (p) => page.$eval(`#graph .node[data-path="${p}"] .node-status`, (n) => n.textContent);

test("the flow's graph is shown beside the chat and each step lights up as the run passes", async () => {
  await page.waitForFunction(() => document.querySelectorAll("#graph .node").length === 3);
  assert.deepEqual(await graphPaths(), ["user", "reply", "step3"]);
  assert.equal(await page.textContent('#graph .node[data-path="reply"] .node-type'), "llm-stream");
  assert.deepEqual(await page.$$eval("#graph .terminal", (t) => t.map((x) => x.textContent)), ["start", "end"]);
  const box = await page.locator("#graph-panel").boundingBox();
  const chat = await page.locator("#transcript").boundingBox();
  assert.ok(box.x >= chat.x + chat.width, `the graph is beside the chat: ${JSON.stringify({ box, chat })}`);

  await recordGraph();
  await sendAndWait("Light up the graph, please.");
  assert.deepEqual(await graphTransitions(), [
    "user:done>idle", "reply:done>idle", "step3:done>idle",  // the previous turn's marks are cleared
    "user:idle>running", "user:running>done",
    "reply:idle>running", "reply:running>done",
    "step3:idle>running", "step3:running>done",
  ]);
  for (const p of ["user", "reply", "step3"]) {
    assert.equal(await nodeState(p), "done");
    assert.match(await nodeStatus(p), /^\d+(\.\d+)? (ms|s)$/, `step ${p} shows its duration`);
  }
  // The reply took its ~20 tokens at 20 ms each: at least 300 ms, far more than the others.
  const replyMs = await nodeStatus("reply");
  assert.ok(/ s$/.test(replyMs) || Number(replyMs.split(" ")[0]) >= 300, replyMs);

});

// Nested steps light up by their path, with the branch and the iterations taken. The server
// is real (the page), its flow list, graph and stream are stand-ins with the events in the form
// issue #11 agreed on (path, iteration, branch, iterations, limit_reached; chunks as objects),
// so the page is checked against that contract before the control runner sends it.
test("nested steps light up by path, with the branch and iterations taken", async () => {
  const step = (path, type, parent, block, blocks = [], detail = "") =>
    ({ kind: "step", path, id: path.split("/").at(-1), type, parent, block, blocks, detail, if: "", line: 1 });
  const graph = {
    name: "nested",
    nodes: [{ kind: "start" },
      step("gate", "if", "", "", ["then", "else"], "when: input.message"),
      step("gate/then/answer", "llm-stream", "gate", "then"),
      step("gate/else/refuse", "fail", "gate", "else", [], "message: no"),
      step("again", "loop", "", "", ["steps"], "max_iterations: 2, until: done"),
      step("again/steps/draft", "llm-stream", "again", "steps"),
      { kind: "end" }],
    edges: [],
  };
  const events = [
    ["step:before", { step: "gate", path: "gate", type: "if", index: 0 }],
    ["step:before", { step: "answer", path: "gate/then/answer", type: "llm-stream", index: 0 }],
    ["chunk", { step: "answer", path: "gate/then/answer", text: "Hello " }],
    ["chunk", { step: "answer", path: "gate/then/answer", text: "there" }],
    ["step:after", { step: "answer", path: "gate/then/answer", duration_ms: 12.4 }],
    ["step:after", { step: "gate", path: "gate", duration_ms: 13.2, branch: "then" }],
    ["step:before", { step: "again", path: "again" }],
    ["step:before", { step: "draft", path: "again/steps/draft", iteration: 1 }],
    ["step:after", { step: "draft", path: "again/steps/draft", iteration: 1, duration_ms: 5 }],
    ["step:before", { step: "draft", path: "again/steps/draft", iteration: 2 }],
    ["step:after", { step: "draft", path: "again/steps/draft", iteration: 2, duration_ms: 6 }],
    ["step:after", { step: "again", path: "again", duration_ms: 1500, iterations: 2, limit_reached: true }],
  ];
  const sse = events.map(([type, data], i) => `event: ${type}\nid: ${i + 1}\ndata: ${JSON.stringify(data)}\n\n`).join("") +
    `event: done\nid: ${events.length + 1}\ndata: [DONE]\n\n`;
  const nested = await context.newPage();
  let posted = null;
  try {
    await nested.route(/\/flows$/, (route) => route.fulfill({ json: { flows: [
      { name: "nested", endpoint: "/nested", description: "", inputs: { message: { type: "string", required: true } } }] } }));
    await nested.route(/\/flows\/nested\/graph$/, (route) => route.fulfill({ json: graph }));
    await nested.route(/\/nested\?events=all$/, (route) => {
      posted = route.request().postDataJSON();
      return route.fulfill({ status: 200, headers: { "Content-Type": "text/event-stream" }, body: sse });
    });
    await nested.goto(server.url + "/");
    await nested.waitForFunction(() => document.querySelector("#graph").dataset.flow === "nested");
    assert.deepEqual(await nested.$$eval("#graph .node", (n) => n.map((x) => x.dataset.path)),
      ["gate", "gate/then/answer", "gate/else/refuse", "again", "again/steps/draft"]);
    assert.deepEqual(await nested.$$eval('#graph .node[data-path="gate"] > .blocks > .block > .block-name',
      (n) => n.map((x) => x.textContent)), ["then", "else"]);

    await nested.fill("#message-input", "hi");
    await nested.click("#send-button");
    await nested.waitForFunction(() => document.body.dataset.state === "idle" &&
      document.querySelectorAll(".message.assistant").length === 1);
    assert.deepEqual(posted, { message: "hi" });
    assert.equal(await nested.locator(".message.assistant").textContent(), "Hello there");
    const state = (p) => nested.$eval(`#graph .node[data-path="${p}"]`,
      (n) => [n.dataset.state, n.querySelector(".node-status").textContent]);
    assert.deepEqual(await state("gate"), ["done", "13 ms \u00b7 branch then"]);
    assert.deepEqual(await state("gate/then/answer"), ["done", "12 ms"]);
    assert.deepEqual(await state("gate/else/refuse"), ["idle", ""]);
    assert.deepEqual(await state("again"), ["done", "1.50 s \u00b7 2 iterations \u00b7 limit reached"]);
    assert.deepEqual(await state("again/steps/draft"), ["done", "6.0 ms \u00b7 iteration 2"]);
    assert.deepEqual(await nested.$$eval('#graph .node[data-path="gate"] > .blocks > .block',
      (n) => n.map((x) => [x.dataset.block, x.classList.contains("taken")])), [["then", true], ["else", false]]);

    await nested.locator("#message-input").blur();
    await nested.locator("#graph-panel").screenshot({ path: graphScreenshotPath });
    assert.ok(fs.statSync(graphScreenshotPath).size > 5000, "graph screenshot written");
  } finally {
    await nested.close();
  }
});

test("HTML in a message is shown as text, never rendered", async () => {
  const message = "<b>bold</b> <img src=x onerror=\"document.body.dataset.pwned=1\">";
  await sendAndWait(message);
  assert.equal(await page.locator("#transcript b, #transcript img").count(), 0);
  assert.equal(await page.locator(".message.user").last().textContent(), message);
  assert.ok((await lastAssistant().textContent()).includes("<b>bold</b>"));
  assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
  assert.equal(requests.at(-1).body.history.length, 6);  // three earlier turns
});

test("Stop ends the reply in the page and cancels the run on the server", async () => {
  await pickFlow("slow-chat (/slow)");
  assert.equal(await page.locator(".message").count(), 0, "switching flows starts a new chat");
  await send("Tell me a long story about streaming.");
  // The first tokens arrive (300 ms apart); the server has one open stream.
  await page.waitForFunction(() => {
    const el = document.querySelector(".message.assistant.streaming");
    return el && el.firstChild.data.split(" ").length >= 3;
  });
  assert.equal((await getJson(server.url + "/healthz")).streams, 1);
  // While the model streams, its step is lit as running and the step before it as done.
  assert.equal(await nodeState("reply"), "running");
  assert.equal(await nodeStatus("reply"), "running\u2026");
  assert.equal(await nodeState("user"), "done");
  assert.equal(await nodeState("step3"), "idle");

  await page.click("#stop-button");
  const clicked = performance.now();
  // The server must see the disconnect and end the run within 1 s of the click.
  const serverClosed = waitUntil(async () => (await getJson(server.url + "/healthz")).streams === 0,
    { timeoutMs: 1000, intervalMs: 20, what: "GET /healthz streams == 0 within 1 s of Stop" })
    .then(() => ({ ms: Math.round(performance.now() - clicked) }), (error) => ({ error }));
  await waitIdle(3000);
  const reply = await lastAssistant().textContent();
  assert.match(reply, /^You said: .* \(stopped\)$/);
  assert.ok(!reply.includes("real one."), `a partial reply: ${reply}`);
  assert.equal(await lastAssistant().locator(".marker").textContent(), " (stopped)");
  assert.match(await page.textContent("#status"), /^slow-chat: stopped after \d+ chunks/);
  assert.equal(await nodeState("reply"), "idle");
  assert.equal(await nodeStatus("reply"), "stopped");
  assert.equal(await page.isDisabled("#stop-button"), true);
  assert.equal(await page.isEnabled("#send-button"), true);

  const closed = await serverClosed;
  if (closed.error) throw closed.error;
  console.log(`# stop: server stream closed within ${closed.ms} ms of the click`);
  // ... because the client went away (not finished, not an error).
  const text = await metrics(server.url);
  assert.equal(metricValue(text, "flowrun_streams_total", { flow: "slow-chat", outcome: "client_gone" }), 1, text);
  assert.equal(metricValue(text, "flowrun_streams_total", { flow: "slow-chat", outcome: "done" }), 0, text);
  // The run really stopped: no more chunks reach the (now idle) page.
  await sleep(700);
  assert.equal(await lastAssistant().textContent(), reply);
});

test("an upstream error is shown inline", async () => {
  await pickFlow("broken-upstream (/broken)");
  await send("Is anyone there?");
  await page.waitForSelector(".message.error");
  await waitIdle();
  const error = await page.locator(".message.error").textContent();
  assert.match(error, /cannot reach upstream http:\/\/127\.0\.0\.1:1\/v1.*\(step: reply\)/);
  assert.equal(await page.locator(".message.assistant").count(), 0, "an empty reply bubble is removed");
  assert.match(await page.textContent("#status"), /^broken-upstream: request failed/);
  // The page still works afterwards.
  await pickFlow("chat (/chat)");
  await sendAndWait("still there?");
  assert.match(await lastAssistant().textContent(), /^You said: "still there\?"/);
  assert.equal((await getJson(server.url + "/healthz")).streams, 0);
});

test("a server with API keys asks for one, then chats", async () => {
  const keyFile = path.join(tmp, "keys.txt");
  fs.writeFileSync(keyFile, "# accepted keys\nplayground-key-1\n");
  const keyed = await startFlowrun(path.join(tmp, "flows", "chat.yaml"),
    { name: "flowrun-keys", args: ["--api-key-file", keyFile], logDir: tmp });
  const keyPage = await context.newPage();
  try {
    await keyPage.goto(keyed.url + "/");
    await keyPage.waitForSelector("#api-key", { state: "visible" });
    assert.match(await keyPage.textContent("#status"), /needs an API key/);
    await keyPage.fill("#api-key", "playground-key-1");
    await keyPage.press("#api-key", "Enter");
    await keyPage.waitForFunction(() => document.querySelectorAll("#flow-select option").length === 1);
    assert.equal(await keyPage.isVisible("#api-key"), false);
    await keyPage.fill("#message-input", "with a key");
    await keyPage.click("#send-button");
    await keyPage.waitForFunction(() => document.querySelectorAll(".message.assistant").length === 1 &&
      document.body.dataset.state === "idle");
    assert.match(await keyPage.locator(".message.assistant").last().textContent(), /^You said: "with a key"/);
  } finally {
    await keyPage.close();
    await keyed.stop();
  }
});
