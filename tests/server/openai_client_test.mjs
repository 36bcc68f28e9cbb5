// tests/server/openai_client_test.mjs — the real `openai` npm client, unchanged, against a live
// server on stories260K with an API key: models, chat (plain and streamed, with usage),
// completions (plain and streamed), n choices, logprobs, errors (400 with the OpenAI error
// shape) and auth (a wrong key is a 401 AuthenticationError).
// usage: OPENAI_NPM_DIR=<dir with node_modules/openai> node openai_client_test.mjs <fitserve>
import { createRequire } from 'node:module';
import path from 'node:path';
import { check, failed, repoRoot, startServer } from './lib.mjs';

const require = createRequire(path.join(process.env.OPENAI_NPM_DIR, 'package.json'));
const OpenAI = require('openai');
const bin = process.argv[2];
const model = path.join(repoRoot, 'tests', 'data', 'stories260K.gguf');
const KEY = 'sk-test-' + Math.random().toString(36).slice(2);

const srv = await startServer(bin, ['-m', model, '-np', '2', '-c', '2048', '--api-key', KEY, '--alias', 'tiny-stories']);
try {
  const client = new OpenAI({ apiKey: KEY, baseURL: srv.base + '/v1', maxRetries: 0 });

  const models = await client.models.list();
  check(models.data.length === 1 && models.data[0].id === 'tiny-stories', 'models.list gives the alias', models.data);

  const messages = [{ role: 'system', content: 'You tell stories.' }, { role: 'user', content: 'Tell me about Lily.' }];
  const chat = await client.chat.completions.create({ model: 'anything', messages, max_tokens: 20, temperature: 0 });
  const content = chat.choices[0].message.content;
  check(chat.object === 'chat.completion' && chat.id.includes('cmpl'), 'chat object and id', chat);
  check(chat.model === 'tiny-stories', 'chat model is the alias', chat.model);
  check(typeof content === 'string' && content.length > 0, 'chat content', chat);
  check(chat.choices[0].finish_reason === 'length', 'finish_reason length', chat.choices[0]);
  check(chat.usage.completion_tokens === 20 && chat.usage.prompt_tokens > 0 &&
        chat.usage.total_tokens === chat.usage.prompt_tokens + 20, 'chat usage', chat.usage);
  check(chat.system_fingerprint?.startsWith('b'), 'system_fingerprint');

  const stream = await client.chat.completions.create({
    model: 'x', messages, max_tokens: 20, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '', first = true, role = null, finish = null, usage = null, ids = new Set();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      if (first) { role = ch.delta.role; first = false; }
      else check(ch.delta.role === undefined, 'role only in the first delta', ch.delta);
      if (ch.delta.content) streamed += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  check(role === 'assistant', 'first delta has role assistant');
  check(streamed === content, 'streamed chat equals non-streamed chat', { streamed, content });
  check(finish === 'length', 'stream finish_reason');
  check(usage && usage.completion_tokens === 20, 'stream usage chunk', usage);
  check(ids.size === 1, 'one id per stream');

  // Seeded sampling is reproducible.
  const seeded = () => client.chat.completions.create({ model: 'x', messages, max_tokens: 16, temperature: 0.9, seed: 1234 });
  const [a, b] = [await seeded(), await seeded()];
  check(a.choices[0].message.content === b.choices[0].message.content, 'same seed, same text');

  const two = await client.chat.completions.create({ model: 'x', messages, max_tokens: 8, temperature: 0, n: 2,
    logprobs: true, top_logprobs: 2 });
  check(two.choices.length === 2 && two.choices[1].index === 1, 'n=2 gives two choices', two.choices);
  const lp = two.choices[0].logprobs?.content ?? [];
  check(lp.length === 8 && lp.every((e) => e.logprob <= 0 && e.top_logprobs.length === 2 && Array.isArray(e.bytes)),
    'logprobs per token', lp);
  check(lp.map((e) => e.token).join('') === two.choices[0].message.content, 'logprob tokens join to the content');

  const comp = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
  check(comp.object === 'text_completion' && comp.choices[0].text.length > 0, 'completions text', comp);
  check(comp.usage.completion_tokens === 16, 'completions usage', comp.usage);
  const cs = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 16, temperature: 0,
    stream: true });
  let ctext = '', cfinish = null;
  for await (const chunk of cs) for (const ch of chunk.choices) { ctext += ch.text; if (ch.finish_reason) cfinish = ch.finish_reason; }
  check(ctext === comp.choices[0].text, 'streamed completion equals non-streamed', { ctext, text: comp.choices[0].text });
  check(cfinish === 'length', 'completion stream finish_reason');
  const full = comp.choices[0].text, stopWord = full.slice(4, 7);
  const stopped = await client.completions.create({ model: 'x', prompt: 'Once upon a time', max_tokens: 16,
    temperature: 0, stop: [stopWord] });
  check(stopped.choices[0].finish_reason === 'stop' && stopped.choices[0].text === full.slice(0, full.indexOf(stopWord)),
    'stop string honoured', { stopWord, got: stopped.choices[0] });

  // Errors: 400 with the OpenAI shape.
  const bad = async (label, req) => {
    try {
      await client.chat.completions.create({ model: 'x', ...req });
      check(false, `${label}: expected an error`);
    } catch (e) {
      check(e instanceof OpenAI.BadRequestError && e.status === 400, `${label}: 400 BadRequestError`, String(e));
      check(typeof e.error?.message === 'string' && e.error?.type === 'invalid_request_error', `${label}: error body`, e.error);
    }
  };
  await bad('empty messages', { messages: [] });
  await bad('unknown role', { messages: [{ role: 'wizard', content: 'x' }] });
  await bad('negative max_tokens', { messages, max_tokens: -4 });
  await bad('n above slots', { messages, n: 3 });
  await bad('bad temperature type', { messages, temperature: 'warm' });

  // Auth: a wrong key is refused.
  const intruder = new OpenAI({ apiKey: 'sk-wrong', baseURL: srv.base + '/v1', maxRetries: 0 });
  try {
    await intruder.models.list();
    check(false, 'wrong key accepted');
  } catch (e) {
    check(e instanceof OpenAI.AuthenticationError && e.status === 401, 'wrong key: 401 AuthenticationError', String(e));
  }
  try {
    await intruder.chat.completions.create({ model: 'x', messages, max_tokens: 2 });
    check(false, 'wrong key accepted for chat');
  } catch (e) {
    check(e.status === 401, 'wrong key: chat 401', String(e));
  }
} finally {
  const code = await srv.stop();
  check(code === 0, `server exit code ${code}`);
}
if (failed()) {
  console.error(`${failed()} check(s) failed`);
  process.exit(1);
}
console.log('openai_client_test: ok');
