// Playground end-to-end test: Debian's headless Chromium, driven by playwright-core, against
// `flowrun serve` on loopback with three flows (fast mock, slow mock, unreachable upstream).
//
//   node --test-reporter=spec tests/e2e/playground.test.mjs
//   UPDATE_SCREENSHOT=1 ... also rewrites docs/playground.png (otherwise it goes to a temp dir)
//   CHROMIUM=/path/to/chromium to use another browser binary
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { ROOT, chatFlow, getJson, makeTempDir, metrics, metricValue, sleep, startFlowrun, streamChat, waitUntil } from "./lib.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const tmp = makeTempDir("flowrun-e2e-playground-");
const screenshotPath = process.env.UPDATE_SCREENSHOT === "1"
  ? path.join(ROOT, "docs/playground.png")
  : path.join(tmp, "playground.png");

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

// Selects a flow by its label, e.g. "chat (/chat)".
async function pickFlow(label) {
  await page.selectOption("#flow-select", { label });
  await page.waitForFunction((l) => {
    const s = document.querySelector("#flow-select");
    return s.options[s.selectedIndex].textContent === l;
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
  assert.equal(requests.at(-1).url, server.url + "/chat");
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

test("HTML in a message is shown as text, never rendered", async () => {
  const message = "<b>bold</b> <img src=x onerror=\"document.body.dataset.pwned=1\">";
  await sendAndWait(message);
  assert.equal(await page.locator("#transcript b, #transcript img").count(), 0);
  assert.equal(await page.locator(".message.user").last().textContent(), message);
  assert.ok((await lastAssistant().textContent()).includes("<b>bold</b>"));
  assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
  assert.equal(requests.at(-1).body.history.length, 4);
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
