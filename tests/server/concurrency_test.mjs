// tests/server/concurrency_test.mjs — continuous batching seen from clients (stories260K):
// 16 concurrent streaming chat clients finish without error and, at temperature 0, give exactly
// the outputs of the same requests run one at a time; a client that disconnects mid-stream
// frees its slot (the generation stops, /slots shows every slot idle, metrics show nothing in
// flight); SIGTERM with a stream in flight lets it finish and the server exits 0.
// usage: node concurrency_test.mjs <fitserve binary>
import path from 'node:path';
import { check, failed, postJson, repoRoot, sleep, slow, startServer, streamChat } from './lib.mjs';

const bin = process.argv[2];
const model = path.join(repoRoot, 'tests', 'data', 'stories260K.gguf');
const N = 16;
const prompts = Array.from({ length: N }, (_, i) =>
  ['Once upon a time', 'Lily went to the park', 'Tom had a red ball', 'The sun was bright'][i % 4] + ` (${i})`);
const body = (i) => ({
  messages: [{ role: 'user', content: prompts[i] }],
  max_tokens: 24 + (i % 5) * 4, // different lengths: requests join and leave the batch at different steps
  temperature: 0,
});

async function slotsIdle(base, timeoutMs) {
  const deadline = Date.now() + timeoutMs * slow;
  for (;;) {
    const slots = await (await fetch(base + '/slots')).json();
    if (slots.every((s) => !s.is_processing)) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

function metric(text, name) {
  const m = new RegExp(`^llamacpp:${name} ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const srv = await startServer(bin, ['-m', model, '-np', '4', '-c', '4096', '-t', '2']);
try {
  // 1. One at a time.
  const sequential = [];
  for (let i = 0; i < N; i++) sequential.push(await streamChat(srv.base, body(i)));
  // 2. All at once.
  const concurrent = await Promise.all(prompts.map((_, i) => streamChat(srv.base, body(i))));
  for (let i = 0; i < N; i++) {
    const s = sequential[i], c = concurrent[i];
    check(c.done, `client ${i}: stream ended with [DONE]`);
    check(c.finish === 'length' || c.finish === 'stop', `client ${i}: finish_reason`, c.finish);
    check(c.content.length > 0, `client ${i}: got content`);
    check(c.content === s.content, `client ${i}: concurrent output equals sequential output`,
      { sequential: s.content, concurrent: c.content });
    const ids = new Set(c.chunks.map((x) => x.id));
    check(ids.size === 1, `client ${i}: one id per stream`);
  }
  // Non-streaming equals streaming.
  const ns = await postJson(srv.base, '/v1/chat/completions', body(3));
  check(ns.status === 200 && ns.json.choices[0].message.content === sequential[3].content,
    'non-streaming content equals streamed content', ns.text.slice(0, 300));

  // 3. A client hangs up mid-stream: its slot frees at once.
  const before = metric(await (await fetch(srv.base + '/metrics')).text(), 'tokens_predicted_total');
  const ac = new AbortController();
  let seen = 0;
  const aborted = streamChat(srv.base, {
    messages: [{ role: 'user', content: 'Tell me a very long story' }], max_tokens: 100000, ignore_eos: true,
    temperature: 0,
  }, { signal: ac.signal, onChunk: () => { if (++seen === 5) ac.abort(); } }).catch((e) => e);
  const err = await aborted;
  check(err instanceof Error && err.name === 'AbortError', 'client aborted its stream', String(err));
  check(await slotsIdle(srv.base, 10000), 'every slot idle after the client hung up');
  const m = await (await fetch(srv.base + '/metrics')).text();
  check(metric(m, 'requests_processing') === 0, 'requests_processing 0 after the hang-up');
  const produced = metric(m, 'tokens_predicted_total') - before;
  check(produced < 1000, `generation stopped early (${produced} tokens, slot context 1024)`);
  const after = await postJson(srv.base, '/v1/chat/completions', body(0));
  check(after.status === 200 && after.json.choices[0].message.content === sequential[0].content,
    'server still answers the same after the hang-up');

  // 4. SIGTERM with a stream in flight: the stream completes, then the server exits 0.
  let chunks = 0;
  const inflight = streamChat(srv.base, {
    messages: [{ role: 'user', content: 'Once' }], max_tokens: 200, ignore_eos: true, temperature: 0,
  }, { onChunk: () => { chunks++; } });
  while (chunks < 3) await sleep(5);
  srv.proc.kill('SIGTERM');
  const res = await inflight;
  check(res.done && res.finish === 'length', 'in-flight stream finished after SIGTERM', res.finish);
  check(res.usage === null && res.chunks.length > 100, 'the whole stream arrived', res.chunks.length);
  const code = await srv.exited;
  check(code === 0, `server exit code after SIGTERM is 0 (got ${code})`, srv.log().slice(-500));
} finally {
  await srv.stop();
}
if (failed()) {
  console.error(`${failed()} check(s) failed`);
  process.exit(1);
}
console.log('concurrency_test: ok');
