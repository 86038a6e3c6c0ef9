'use strict';
// chatStream(): `for await` over chunks, `.meta`, `ready()`, early `break` closing the
// connection, `cancel()`, errors in the middle of a stream, and the non-SSE fallback.

const test = require('node:test');
const assert = require('node:assert/strict');
const aigw = require('..');
const { startMock, caught, sleep } = require('./helpers');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

const hello = (text = 'stream this answer please') => ({ messages: [{ role: 'user', content: text }] });
const fault = (spec) => ({ headers: { 'x-mock-fault': spec } });

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const text = (chunks) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

/** Polls the mock until `predicate(stats)` holds (bounded). */
async function waitForStats(predicate, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  let stats;
  do {
    stats = await mock.control('stats');
    if (predicate(stats)) return stats;
    await sleep(20);
  } while (Date.now() < deadline);
  assert.fail(`mock stats never matched: ${JSON.stringify(stats)}`);
}

test('for await yields every chunk; meta once headers arrived', async () => {
  const client = new aigw.Client(mock.profile());
  const stream = client.chatStream(hello());
  assert.equal(stream.meta, null, 'no headers yet');
  const chunks = await collect(stream);
  assert.equal(text(chunks), 'echo: stream this answer please');
  assert.equal(chunks[0].object, 'chat.completion.chunk');
  assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
  // aigw asks for usage: the usage-only chunk comes last; the final meta has it normalised.
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.equal(stream.meta.usage.input_tokens, 4);
  assert.equal(stream.meta.usage.total_tokens, chunks.at(-1).usage.total_tokens);
  assert.equal(stream.meta.status, 200);
  assert.equal(stream.meta.model, 'openai/gpt-4o-mini');
  assert.match(stream.meta.cf_aig_log_id, /^mocklog-/);
  // Finished streams stay finished.
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
  const sent = JSON.parse((await mock.control('requests')).at(-1).body);
  assert.equal(sent.stream, true);
});

test('ready() resolves with meta before the first chunk is read', async () => {
  const client = new aigw.Client(mock.profile());
  const stream = client.chatStream(hello());
  const meta = await stream.ready();
  assert.equal(meta.status, 200);
  assert.equal(stream.meta, meta);
  assert.equal(text(await collect(stream)), 'echo: stream this answer please');
});

test('many chunks arrive in order, UTF-8 split across reads intact', async () => {
  const client = new aigw.Client(mock.profile());
  const chunks = await collect(client.chatStream(hello(), fault('chunks=2000;content_len=2000;split_bytes')));
  assert.equal(chunks.length, 2001, '2000 pieces and the usage chunk');
  const expected = 'héllo wörld 🦀 中文 '.repeat(200);
  assert.equal(text(chunks), [...expected].slice(0, 2000).join(''));
  const odd = await collect(client.chatStream(hello(), fault('utf8_split;crlf;bom;comments')));
  assert.equal(text(odd), 'aéb中c🦀déaéb中c🦀dé');
});

test('break closes the connection instead of returning it to the pool', async () => {
  const client = new aigw.Client(mock.profile());
  // Warm up: a finished stream's connection goes back to the pool and stays open.
  await collect(client.chatStream(hello()));
  const before = await mock.control('stats');
  let seen = 0;
  for await (const chunk of client.chatStream(hello(), fault('chunks=5000;stall_after=3;stall_ms=200'))) {
    assert.ok(chunk.choices);
    seen += 1;
    if (seen === 2) break;
  }
  assert.equal(seen, 2);
  await waitForStats((s) => s.connections_closed > before.connections_closed);
  // The client keeps working on a fresh connection.
  assert.equal(text(await collect(client.chatStream(hello('again')))), 'echo: again');
});

test('close() during opening and after the end is harmless', async () => {
  const client = new aigw.Client(mock.profile());
  const stream = client.chatStream(hello(), fault('delay_ms=200'));
  stream.close();
  assert.deepEqual(await stream.next(), { value: undefined, done: true });
  const err = await caught(() => stream.ready());
  assert.equal(err.code, 'CANCELLED');
  const done = client.chatStream(hello());
  await collect(done);
  done.close();
  done.cancel();
  assert.equal((await done.next()).done, true);
});

test('cancel() from a timer while a read waits on a stalled stream', async () => {
  const client = new aigw.Client(mock.profile());
  const stream = client.chatStream(hello(), fault('chunks=10;stall_after=2;stall_ms=600'));
  const first = await stream.next();
  assert.equal(first.done, false);
  setTimeout(() => stream.cancel(), 50);
  const started = Date.now();
  const err = await caught(async () => {
    for (let i = 0; i < 20; i++) await stream.next();
  });
  assert.equal(err.code, 'CANCELLED');
  assert.ok(Date.now() - started < 500, 'a pending next() settles at once on cancel');
  assert.equal((await stream.next()).done, true, 'CANCELLED is reported once');
});

test('errors before the first chunk reject the first next()', async () => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 1 }));
  const stream = client.chatStream(hello(), fault('status=503'));
  const err = await caught(() => collect(stream));
  assert.equal(err.code, 'PROVIDER');
  assert.equal(err.httpStatus, 503);
  const ready = await caught(() => stream.ready());
  assert.equal(ready.code, 'PROVIDER');
  const auth = await caught(() => collect(new aigw.Client(mock.profile({ apiKey: 'nope' })).chatStream(hello())));
  assert.equal(auth.code, 'AUTH');
  const invalid = await caught(() => collect(client.chatStream('not an object')));
  assert.equal(invalid.code, 'INVALID_ARGUMENT');
});

test('errors in the middle of a stream', async (t) => {
  const client = new aigw.Client(mock.profile({ streamIdleTimeoutMs: 1000 }));
  const cases = [
    ['sse_error_frame', 'PROVIDER', /upstream overloaded/],
    ['malformed_sse', 'PROTOCOL', /not valid JSON/],
    ['chunks=8;truncate_after=3', 'PROTOCOL', /stream truncated after 3 events/],
    ['chunks=8;reset_after=3', 'CONNECTION', /connection/],
    ['chunks=4;stall_after=2;stall_ms=2500', 'TIMEOUT', /stream_idle/],
  ];
  for (const [spec, code, message] of cases) {
    await t.test(spec, async () => {
      const chunks = [];
      const err = await caught(async () => {
        for await (const chunk of client.chatStream(hello(), fault(spec))) chunks.push(chunk);
      });
      assert.equal(err.code, code);
      assert.match(err.message, message);
      assert.ok(chunks.length >= 1, 'the chunks before the error were delivered');
    });
  }
});

test('a JSON answer to a stream request is one final item', async () => {
  const client = new aigw.Client(mock.profile());
  const chunks = await collect(client.chatStream(hello('buffered'), fault('json_for_stream')));
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].choices[0].message.content, 'echo: buffered');
});

test('concurrent next() calls are served in order', async () => {
  const client = new aigw.Client(mock.profile());
  const stream = client.chatStream(hello(), fault('chunks=6'));
  const results = await Promise.all([stream.next(), stream.next(), stream.next(), stream.next()]);
  assert.deepEqual(results.map((r) => r.value.choices[0].index), [0, 0, 0, 0]);
  const contents = results.map((r) => r.value.choices[0].delta.content ?? '');
  const rest = await collect(stream);
  assert.equal(contents.join('') + text(rest), 'echo: stream this answer please');
});

test('16 concurrent streams and chats stay independent', async () => {
  const client = new aigw.Client(mock.profile());
  const streams = Array.from({ length: 16 }, (_, i) =>
    collect(client.chatStream(hello(`stream ${i}`), fault(`chunks=${50 + i}`))));
  const chats = Array.from({ length: 16 }, (_, i) => client.chat(hello(`chat ${i}`)));
  const [streamed, answered] = await Promise.all([Promise.all(streams), Promise.all(chats)]);
  streamed.forEach((chunks, i) => {
    assert.equal(chunks.length, 50 + i + 1, 'pieces and the usage chunk');
    assert.equal(text(chunks), `echo: stream ${i}`);
  });
  answered.forEach((r, i) => assert.equal(r.choices[0].message.content, `echo: chat ${i}`));
});

test('a next() queued behind a failing one sees the end', async () => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 1 }));
  const stream = client.chatStream(hello(), fault('status=500'));
  const [first, second] = await Promise.allSettled([stream.next(), stream.next()]);
  assert.equal(first.status, 'rejected');
  assert.equal(first.reason.code, 'PROVIDER');
  assert.deepEqual(second, { status: 'fulfilled', value: { value: undefined, done: true } });
});

test('200 abandoned streams on a stalled upstream leave the pool free', async (t) => {
  // Each stream sends one chunk, then stalls for 6 s: a read past the first chunk blocks.
  const ABANDONED = 200;
  const client = new aigw.Client(mock.profile());
  const streams = Array.from({ length: ABANDONED }, () =>
    client.chatStream(hello(), fault('chunks=50;stall_after=1;stall_ms=6000')));
  // Half are never iterated, half are abandoned after one manual next(). Bounded, because
  // read-ahead on every stream would starve these very calls.
  const opened = Promise.all(streams.map((stream, i) => (i % 2 === 0 ? stream.ready() : stream.next())));
  const opening = await Promise.race([opened.then(() => 'done'), sleep(2000).then(() => 'timed out')]);

  const other = new aigw.Client(mock.profile());
  const started = performance.now();
  const answer = await Promise.race([other.chat(hello('unrelated')), sleep(8000).then(() => null)]);
  const waited = performance.now() - started;
  t.diagnostic(`opening: ${opening}; an unrelated chat() waited ${waited.toFixed(0)} ms beside ${ABANDONED} abandoned streams`);
  for (const stream of streams) stream.close();
  assert.equal(opening, 'done', 'every stream opened (and read its first chunk) within 2 s');
  assert.ok(waited < 1000, `the unrelated chat() waited ${waited.toFixed(0)} ms`);
  assert.equal(answer.choices[0].message.content, 'echo: unrelated');
});

/** The addon index.js loaded (a source checkout: the local build next to it). */
function nativeAddon() {
  const { platform, arch } = process;
  return require(require('node:path').join(__dirname, '..', `aigw.${platform}-${arch}-gnu.node`));
}

test('chunks that arrive together cross from native code in one batch, in order', async (t) => {
  if (process.platform !== 'linux') return t.skip('the local build is looked up by its Linux name');
  const proto = nativeAddon().NativeStream.prototype;
  const wait = proto.wait;
  let waits = 0;
  proto.wait = function countedWait() {
    waits += 1;
    return wait.call(this);
  };
  try {
    const client = new aigw.Client(mock.profile());
    const chunks = await collect(client.chatStream(hello(), fault('chunks=400;content_len=400')));
    assert.equal(chunks.length, 401, '400 pieces and the usage chunk');
    assert.equal(text(chunks), [...'héllo wörld 🦀 中文 '.repeat(40)].slice(0, 400).join(''));
    // 400 small events written back to back come in a handful of reads, not 400 round trips.
    assert.ok(waits < 100, `${waits} native waits for 401 chunks`);
    assert.deepEqual(chunks.map((c) => c.choices[0]?.index ?? 'usage').filter((i) => i !== 0), ['usage']);
  } finally {
    proto.wait = wait;
  }
});

test('close(), cancel() and an abort drop the chunks received but not handed out', async () => {
  const client = new aigw.Client(mock.profile());
  const closed = client.chatStream(hello(), fault('chunks=300'));
  assert.equal((await closed.next()).done, false);
  closed.close();
  assert.deepEqual(await closed.next(), { value: undefined, done: true });

  const cancelled = client.chatStream(hello(), fault('chunks=300'));
  assert.equal((await cancelled.next()).done, false);
  cancelled.cancel();
  const err = await caught(() => cancelled.next());
  assert.equal(err.code, 'CANCELLED');

  const controller = new AbortController();
  const withSignal = client.chatStream(hello(), { ...fault('chunks=300'), signal: controller.signal });
  assert.equal((await withSignal.next()).done, false);
  controller.abort();
  const abortErr = await caught(() => withSignal.next());
  assert.equal(abortErr.name, 'AbortError');
});
