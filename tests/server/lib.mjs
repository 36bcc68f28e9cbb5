// tests/server/lib.mjs — helpers for the live-server tests written in Node (no npm packages):
// startServer() runs `fitserve serve --port 0 ...`, waits until it listens and answers /health,
// and returns {base, proc, stop()}; stop() sends SIGTERM and resolves with the exit code.
// Also: check() (assertion with a message), postJson(), readSse() (parses an SSE body stream),
// repoRoot/testdata paths, and SKIP (the exit code CTest treats as "skipped").
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SKIP = 77;
export const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = process.env.FITSERVE_SOURCE_DIR || path.resolve(here, '..', '..');
export const testdata = process.env.FITSERVE_TESTDATA || path.resolve(repoRoot, '..', 'shared', 'testdata');
export const slow = process.env.FITSERVE_UNDER_ASAN === '1' ? 10 : 1;

let failures = 0;
export function check(cond, msg, extra) {
  if (!cond) {
    failures++;
    console.error(`FAIL: ${msg}` + (extra !== undefined ? `\n  ${typeof extra === 'string' ? extra : JSON.stringify(extra)}` : ''));
  }
  return !!cond;
}
export function failed() { return failures; }

export async function startServer(bin, args, { timeoutMs = 120000 } = {}) {
  if (!existsSync(bin)) throw new Error(`no fitserve binary at ${bin}`);
  const proc = spawn(bin, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  const deadline = Date.now() + timeoutMs * slow;
  let port = 0;
  while (!port) {
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
    if (m) port = Number(m[1]);
    else if (proc.exitCode !== null) throw new Error(`server exited early:\n${log}`);
    else if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`server did not start:\n${log}`); }
    else await sleep(50);
  }
  const base = `http://127.0.0.1:${port}`;
  const h = await fetch(`${base}/health`);
  if (h.status !== 200) throw new Error(`/health answered ${h.status}`);
  return {
    base,
    proc,
    log: () => log,
    exited,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 60000 * slow);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

export async function postJson(base, p, body, headers = {}) {
  const r = await fetch(base + p, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text, headers: r.headers };
}

// Yields each `data:` payload of an SSE response (strings; "[DONE]" included).
export async function* readSse(response) {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of response.body) {
    buf += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split('\n')) if (line.startsWith('data: ')) yield line.slice(6);
    }
  }
}

// Streams a chat completion and returns {content, reasoning, chunks, done, finish, usage}.
export async function streamChat(base, body, { signal, onChunk } = {}) {
  const r = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (r.status !== 200) throw new Error(`stream status ${r.status}: ${await r.text()}`);
  const out = { content: '', reasoning: '', chunks: [], done: false, finish: null, usage: null };
  for await (const data of readSse(r)) {
    if (data === '[DONE]') { out.done = true; continue; }
    const j = JSON.parse(data);
    if (j.error) throw new Error(`stream error: ${data}`);
    out.chunks.push(j);
    if (j.usage) out.usage = j.usage;
    for (const c of j.choices) {
      if (typeof c.delta?.content === 'string') out.content += c.delta.content;
      if (typeof c.delta?.reasoning_content === 'string') out.reasoning += c.delta.reasoning_content;
      if (c.finish_reason) out.finish = c.finish_reason;
    }
    if (onChunk) onChunk(j);
  }
  return out;
}
