// Shared helpers for the end-to-end tests: start and stop flowrun (and other servers) on
// loopback, always clean up, read SSE streams with arrival times, poll with deadlines.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const FLOWRUN = process.env.FLOWRUN_BIN || path.join(ROOT, "build/flowrun");

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A new temp dir, removed at exit when every test passed (kept, with its logs, otherwise or
// with E2E_KEEP=1).
const tempDirs = [];
export function makeTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

// Every child process started here, so that exit, a signal or a failed assertion stops all of them.
const children = new Set();

function killGroup(child, signal) {
  // Children run in their own process group (detached), so nginx's workers go with their master.
  try { process.kill(-child.pid, signal); } catch { try { child.kill(signal); } catch { /* gone */ } }
}

process.on("exit", (code) => {
  for (const child of children) killGroup(child, "SIGKILL");
  const failed = code !== 0 || (process.exitCode ?? 0) !== 0;
  for (const dir of tempDirs) {
    if (failed || process.env.E2E_KEEP === "1") console.error(`e2e: logs and files kept in ${dir}`);
    else try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    console.error(`e2e: received ${signal}; stopping ${children.size} child process(es)`);
    process.exit(130);  // the exit handler above kills them
  });
}

// Starts a long-running process. Its stdout and stderr go to logFile; waitFor(regex) resolves
// with the first match in stdout+stderr, or rejects when the process exits or time runs out.
export function startProcess(name, command, args, { env = process.env, logFile, cwd } = {}) {
  const child = spawn(command, args, { env, cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let output = "";
  const log = logFile ? fs.createWriteStream(logFile) : null;
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => { exitInfo = { code, signal }; children.delete(child); resolve(exitInfo); });
    child.on("error", (err) => { exitInfo = { code: -1, signal: null, error: err }; children.delete(child); resolve(exitInfo); });
  });
  const watchers = [];
  const onData = (data) => {
    const text = data.toString();
    output += text;
    if (output.length > 1 << 20) output = output.slice(-(1 << 19));  // bounded
    log?.write(text);
    for (const w of [...watchers]) {
      const m = output.match(w.regex);
      if (m) { watchers.splice(watchers.indexOf(w), 1); w.resolve(m); }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);

  const proc = {
    name, child, exited,
    get pid() { return child.pid; },
    get running() { return exitInfo === null; },
    output: () => output,
    tail(lines = 30) { return output.split("\n").slice(-lines).join("\n"); },
    waitFor(regex, timeoutMs = 10000) {
      const m = output.match(regex);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { regex, resolve };
        watchers.push(w);
        const timer = setTimeout(() => {
          watchers.splice(watchers.indexOf(w), 1);
          reject(new Error(`${name}: no ${regex} within ${timeoutMs} ms; output:\n${proc.tail()}`));
        }, timeoutMs);
        w.resolve = (match) => { clearTimeout(timer); resolve(match); };
        exited.then((info) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${JSON.stringify(info)}) before printing ${regex}; output:\n${proc.tail()}`));
        });
      });
    },
    // SIGTERM (or `signal`), wait up to graceMs for the exit, then SIGKILL the group.
    async stop(signal = "SIGTERM", graceMs = 5000) {
      if (exitInfo) return exitInfo;
      killGroup(child, signal);
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve("timeout"), graceMs); });
      const first = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (first === "timeout") {
        console.error(`${name}: still running ${graceMs} ms after ${signal}; killing it`);
        killGroup(child, "SIGKILL");
      }
      const info = await exited;
      log?.end();
      return info;
    },
  };
  return proc;
}

// The environment for flowrun: no OPENAI_* (so `auto` picks the mock) and no FLOWRUN_* (no API keys).
export function flowrunEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("OPENAI_") || key.startsWith("FLOWRUN_")) delete env[key];
  return env;
}

// Starts `flowrun serve PATHS --port 0 ...` and resolves once it listens.
export async function startFlowrun(paths, { name = "flowrun", args = [], logDir } = {}) {
  if (!fs.existsSync(FLOWRUN)) throw new Error(`${FLOWRUN} is missing; run make build first`);
  const logFile = logDir ? path.join(logDir, `${name}.log`) : undefined;
  const proc = startProcess(name, FLOWRUN,
    ["serve", ...[].concat(paths), "--host", "127.0.0.1", "--port", "0", "--no-watch", "--drain-timeout", "2", ...args],
    { env: flowrunEnv(), logFile });
  const m = await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:(\d+))/, 15000);
  proc.url = m[1];
  proc.port = Number(m[2]);
  proc.logFile = logFile;
  return proc;
}

// A port that was free a moment ago (for servers that cannot take port 0, like nginx).
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// fetch with a deadline.
export async function fetchWithTimeout(url, options = {}, timeoutMs = 10000) {
  return fetch(url, { ...options, signal: AbortSignal.timeout(timeoutMs) });
}

export async function getJson(url, timeoutMs = 5000) {
  const res = await fetchWithTimeout(url, {}, timeoutMs);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

// Polls fn() every intervalMs until it returns a truthy value; throws after timeoutMs.
export async function waitUntil(fn, { timeoutMs = 5000, intervalMs = 25, what = "condition" } = {}) {
  const deadline = performance.now() + timeoutMs;
  let last;
  for (;;) {
    try { last = await fn(); } catch (err) { last = err; }
    if (last && !(last instanceof Error)) return last;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ""));
    }
    await sleep(intervalMs);
  }
}

// POSTs a JSON body and reads the SSE reply to the end, recording when each chunk event arrived.
// Resolves with { status, headers, chunks: [{text, at}], text, done, errors, raw, reads }.
export async function streamChat(url, body, { timeoutMs = 20000, headers = {} } = {}) {
  const started = performance.now();
  const res = await fetchWithTimeout(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...headers },
    body: JSON.stringify(body),
  }, timeoutMs);
  const result = { status: res.status, headers: res.headers, chunks: [], text: "", done: false, errors: [], raw: "", reads: [] };
  if (!res.body) return result;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of res.body) {
    const at = performance.now() - started;
    const text = decoder.decode(bytes, { stream: true });
    result.raw += text;
    result.reads.push(at);
    buffer += text;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;  // a ": ping" comment
      const payload = data.join("\n");
      if (payload === "[DONE]") { result.done = true; continue; }
      if (type === "error") { result.errors.push(payload); continue; }
      if (type === "chunk") {
        const piece = JSON.parse(payload);
        result.chunks.push({ text: piece, at });
        result.text += piece;
      }
    }
  }
  return result;
}

// Prometheus text: the value of one sample, 0 when absent.
export function metricValue(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const inside = line.slice(name.length + 1, line.indexOf("}"));
    const have = inside.split(",");
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.indexOf("}") + 1).trim());
  }
  return 0;
}

export async function metrics(baseUrl) {
  const res = await fetchWithTimeout(baseUrl + "/metrics", {}, 5000);
  return res.text();
}

// A chat flow in YAML with the given name, endpoint and llm-stream settings.
export function chatFlow({ name, endpoint, description = "", llm = {} }) {
  const llmLines = Object.entries(llm).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join("\n");
  return `version: 1
name: ${name}
description: ${JSON.stringify(description)}
endpoint: ${endpoint}
input:
  message: {type: string, required: true, max_length: 16000}
  history: {type: messages, default: [], max_length: 200}
steps:
  - id: user
    type: append-message
    role: user
    content: "{{ input.message }}"
  - id: reply
    type: llm-stream
    model: gpt-4o-mini
    system: You are a helpful assistant.
${llmLines}
  - type: append-reply
`;
}
