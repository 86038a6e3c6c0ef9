'use strict';
// AbortSignal on chat(), embeddings(), chatStream() and listModels(): an abort in flight rejects
// at once with an AbortError (code CANCELLED, the other aigw properties kept), core drops the
// connection and makes no further attempt; an already-aborted signal rejects before any I/O;
// listeners never outlive their call; sync calls refuse a signal. The same for the streams of
// the translated kinds (anthropic, bedrock).

const test = require('node:test');
const assert = require('node:assert/strict');
const { getEventListeners } = require('node:events');
const aigw = require('..');
const { startMock, caught, sleep } = require('./helpers');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

const hello = (text = 'abort me') => ({ messages: [{ role: 'user', content: text }] });
const fault = (spec) => ({ headers: { 'x-mock-fault': spec } });
const EMBEDDING_MODEL = 'workers-ai/@cf/baai/bge-small-en-v1.5';

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

/** Starts from no recorded request; returns the stats after the reset. */
async function reset() {
  await mock.control('reset', 'POST');
  return mock.control('stats');
}

function assertAbortError(err, signal) {
  assert.ok(err instanceof Error, 'an Error');
  assert.equal(err.name, 'AbortError');
  assert.equal(err.code, 'CANCELLED');
  assert.equal(err.status, aigw.codes.CANCELLED);
  for (const key of ['httpStatus', 'providerCode', 'retryAfterMs', 'requestId']) {
    assert.ok(key in err, `.${key} is present`);
  }
  assert.ok(Array.isArray(err.attempts));
  assert.equal(err.cause, signal.reason, 'the abort reason is the cause');
  assert.match(String(err), /^AbortError: /);
  assert.match(err.stack, /^AbortError: /);
}

const listeners = (signal) => getEventListeners(signal, 'abort').length;

test('chat(): an abort during a slow answer rejects at once; one request, no retry, connection closed', async (t) => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 3 }));
  const before = await reset();
  const controller = new AbortController();
  const call = client.chat(hello(), { ...fault('delay_ms=5000'), signal: controller.signal });
  assert.equal(listeners(controller.signal), 1);
  // Abort once the mock holds the request (it answers after 5 s).
  await waitForStats((s) => s.requests === 1);
  const aborted = performance.now();
  controller.abort();
  const err = await caught(() => call);
  const ms = performance.now() - aborted;
  t.diagnostic(`chat() rejected ${ms.toFixed(1)} ms after abort()`);
  assertAbortError(err, controller.signal);
  assert.ok(ms < 1000, `rejected ${ms.toFixed(0)} ms after the abort, well before the 5 s answer`);
  assert.equal(listeners(controller.signal), 0, 'the listener is gone');
  // The mock notices the closed connection when it writes after its delay; a request still
  // waiting for its answer would keep the connection open instead.
  const after = await waitForStats((s) => s.connections_closed > before.connections_closed, 10_000);
  assert.equal(after.requests, 1, 'exactly one request: no retry after the abort');
  // The client keeps working.
  assert.equal((await client.chat(hello('again'))).choices[0].message.content, 'echo: again');
});

test('embeddings(): an abort in flight rejects at once, without a retry', async () => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 3, embeddingModel: EMBEDDING_MODEL }));
  await reset();
  const controller = new AbortController();
  const call = client.embeddings({ input: 'slow' }, { ...fault('delay_ms=3000'), signal: controller.signal });
  await waitForStats((s) => s.requests === 1);
  const aborted = performance.now();
  controller.abort(new Error('the user left'));
  const err = await caught(() => call);
  assert.ok(performance.now() - aborted < 1000);
  assertAbortError(err, controller.signal);
  assert.equal(err.cause.message, 'the user left');
  await sleep(500);
  assert.equal((await mock.control('stats')).requests, 1, 'no retry after the abort');
});

test('AbortSignal.timeout() aborts a call in flight', async () => {
  const client = new aigw.Client(mock.profile());
  const signal = AbortSignal.timeout(150);
  const started = performance.now();
  const err = await caught(() => client.chat(hello(), { ...fault('delay_ms=3000'), signal }));
  assertAbortError(err, signal);
  assert.equal(err.cause.name, 'TimeoutError');
  assert.ok(performance.now() - started < 1500);
});

test('an already-aborted signal rejects before any I/O', async () => {
  const client = new aigw.Client(mock.profile({ model: 'auto', embeddingModel: EMBEDDING_MODEL }));
  const before = await reset();
  const signal = AbortSignal.abort();
  assertAbortError(await caught(() => client.chat(hello(), { signal })), signal);
  assertAbortError(await caught(() => client.embeddings({ input: 'x' }, { signal })), signal);
  assertAbortError(await caught(() => client.listModels({ signal })), signal);
  const stream = client.chatStream(hello(), { signal });
  assertAbortError(await caught(() => stream.ready()), signal);
  assertAbortError(await caught(() => stream.next()), signal);
  assert.deepEqual(await stream.next(), { value: undefined, done: true }, 'reported once, like cancel()');
  assertAbortError(await caught(async () => {
    for await (const chunk of client.chatStream(hello(), { signal })) assert.fail(`unexpected ${JSON.stringify(chunk)}`);
  }), signal);
  await sleep(100);
  const after = await mock.control('stats');
  assert.equal(after.requests, 0, 'no request, not even the catalog for model "auto"');
  assert.equal(after.connections_opened, before.connections_opened, 'no connection');
  assert.equal(listeners(signal), 0);
});

test('chatStream(): an abort mid-way rejects the pending read and closes the connection', async (t) => {
  const client = new aigw.Client(mock.profile());
  const before = await reset();
  const controller = new AbortController();
  const stream = client.chatStream(hello(), { ...fault('chunks=20;stall_after=2;stall_ms=3000'), signal: controller.signal });
  assert.equal((await stream.next()).done, false);
  assert.equal((await stream.next()).done, false);
  const pending = stream.next(); // waits in the 3 s stall
  await sleep(50);
  const aborted = performance.now();
  controller.abort();
  const err = await caught(() => pending);
  const ms = performance.now() - aborted;
  t.diagnostic(`the pending next() rejected ${ms.toFixed(1)} ms after abort()`);
  assertAbortError(err, controller.signal);
  assert.ok(ms < 500, `a pending next() settles at once on abort (${ms.toFixed(0)} ms)`);
  assert.deepEqual(await stream.next(), { value: undefined, done: true }, 'reported once');
  assert.equal(listeners(controller.signal), 0);
  assert.equal(stream.meta.status, 200, 'the stream had opened');
  await waitForStats((s) => s.connections_closed > before.connections_closed, 10_000);
});

// Eight one-character deltas of "echo: hi"; the mock stalls after its fourth event (Anthropic:
// message_start, content_block_start, ping, "e"; Bedrock: messageStart, "e", "c", "h").
const STALLED = 'chunks=8;stall_after=4;stall_ms=2000';
const FULL_TEXT = 'echo: hi';
const deltaText = (chunk) => chunk.choices.map((c) => c.delta?.content ?? '').join('');

/** A profile of a translated kind on the mock, with three attempts so a retry would show. */
function translatedProfile(kind) {
  const extra = kind === 'anthropic'
    ? { model: 'claude-sonnet-4-5' }
    : { model: 'anthropic.claude-3-haiku-20240307-v1:0', modelsEndpoint: `${mock.origin}/foundation-models` };
  return mock.profile({ kind, baseUrl: mock.origin, retryMaxAttempts: 3, retryInitialBackoffMs: 50, ...extra });
}

for (const kind of ['anthropic', 'bedrock']) {
  test(`chatStream() of ${kind}: an abort in the stall rejects the pending read; connection closed, no retry`, async () => {
    const client = new aigw.Client(translatedProfile(kind));
    await reset();
    // Earlier tests' connections are gone, so the closed count below is this stream's.
    const before = await waitForStats((s) => s.connections_opened - s.connections_closed === 1, 10_000);
    const controller = new AbortController();
    const stream = client.chatStream(hello('hi'), { ...fault(STALLED), signal: controller.signal });
    let text = '';
    while (!text) {
      const { value, done } = await stream.next();
      assert.equal(done, false, 'text arrives before the stall');
      text += deltaText(value);
    }
    const pending = (async () => {
      for (;;) {
        const { value, done } = await stream.next(); // waits in the stall
        if (done) return;
        text += deltaText(value);
      }
    })();
    await sleep(100);
    controller.abort();
    assertAbortError(await caught(() => pending), controller.signal);
    assert.deepEqual(await stream.next(), { value: undefined, done: true }, 'reported once');
    assert.equal(listeners(controller.signal), 0);
    assert.equal(stream.meta.status, 200, 'the stream had opened');
    assert.ok(text.length < FULL_TEXT.length && FULL_TEXT.startsWith(text), `only the text before the stall: ${text}`);
    // The mock notices the close when it writes again after its stall.
    const after = await waitForStats((s) => s.connections_closed > before.connections_closed
      && s.connections_opened - s.connections_closed === 1, 10_000);
    assert.equal(after.requests, 1, 'one request: no retry after the abort');
  });
}

test('chatStream(): an abort while the stream opens interrupts the open', async () => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 3 }));
  await reset();
  const controller = new AbortController();
  const stream = client.chatStream(hello(), { ...fault('delay_ms=5000'), signal: controller.signal });
  const ready = caught(() => stream.ready());
  const first = caught(() => stream.next());
  await waitForStats((s) => s.requests === 1);
  const aborted = performance.now();
  controller.abort();
  assertAbortError(await first, controller.signal);
  assertAbortError(await ready, controller.signal);
  assert.ok(performance.now() - aborted < 1000);
  assert.equal(stream.meta, null);
  await sleep(300);
  assert.equal((await mock.control('stats')).requests, 1, 'no retry after the abort');
});

test('chatStream(): an abort after the end, or after close(), changes nothing', async () => {
  const client = new aigw.Client(mock.profile());
  const controller = new AbortController();
  const done = client.chatStream(hello('whole'), { signal: controller.signal });
  const chunks = [];
  for await (const chunk of done) chunks.push(chunk);
  assert.ok(chunks.length > 1);
  const closed = client.chatStream(hello('closed'), { signal: controller.signal });
  await closed.ready();
  closed.close();
  assert.equal(listeners(controller.signal), 0);
  controller.abort();
  assert.deepEqual(await done.next(), { value: undefined, done: true });
  assert.deepEqual(await closed.next(), { value: undefined, done: true });
  assert.ok(done.meta.usage, 'the final meta is kept');
});

test('listModels(): an abort cancels the catalog request itself', async () => {
  const client = new aigw.Client(mock.profile({ headers: { 'x-mock-fault': 'models:delay_ms=1500' } }));
  await reset();
  const controller = new AbortController();
  const call = client.listModels({ signal: controller.signal });
  await waitForStats((s) => s.requests === 1);
  const aborted = performance.now();
  controller.abort();
  const err = await caught(() => call);
  assert.ok(performance.now() - aborted < 200, 'rejected at once');
  assertAbortError(err, controller.signal);
  assert.equal(listeners(controller.signal), 0);
  await sleep(2000);
  // The aborted request filled nothing: the next call asks again.
  const models = await client.listModels();
  assert.ok(models.length > 0);
  assert.equal((await mock.control('stats')).requests, 2, 'the aborted answer was not cached');

  const invalid = await caught(() => client.listModels({ timeoutMs: 5 }));
  assert.equal(invalid.code, 'INVALID_ARGUMENT');
  assert.match(invalid.message, /only `signal`/);
  assert.equal((await caught(() => client.listModels({ signal: 'soon' }))).code, 'INVALID_ARGUMENT');
  assert.ok((await client.listModels({ signal: undefined })).length > 0);
});

test('a long-lived signal keeps no listener once its calls settle', async () => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 1, embeddingModel: EMBEDDING_MODEL }));
  const controller = new AbortController();
  const { signal } = controller;
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on('warning', onWarning);
  const calls = Array.from({ length: 50 }, (_, i) => client.chat(hello(`n${i}`), { signal }));
  assert.equal(listeners(signal), 1, '50 calls in flight share one listener');
  const answers = await Promise.all(calls);
  assert.equal(answers.length, 50);
  assert.equal(listeners(signal), 0);
  await client.embeddings({ input: 'x' }, { signal });
  await client.listModels({ signal });
  assert.equal((await caught(() => client.chat(hello(), { ...fault('status=500'), signal }))).code, 'PROVIDER');
  for (let i = 0; i < 5; i++) {
    for await (const chunk of client.chatStream(hello(), { signal })) assert.ok(chunk);
  }
  for await (const chunk of client.chatStream(hello(), { ...fault('chunks=10'), signal })) {
    assert.ok(chunk);
    break;
  }
  const failed = client.chatStream(hello(), { ...fault('status=500'), signal });
  assert.equal((await caught(() => failed.next())).code, 'PROVIDER');
  assert.equal(listeners(signal), 0);
  assert.equal(signal.aborted, false);
  await sleep(10);
  process.off('warning', onWarning);
  assert.deepEqual(warnings.map(String), [], 'no MaxListenersExceededWarning');
});

test('sync calls refuse a signal; a bad signal is INVALID_ARGUMENT', async () => {
  const client = new aigw.Client(mock.profile({ embeddingModel: EMBEDDING_MODEL }));
  const { signal } = new AbortController();
  for (const call of [
    () => client.chatSync(hello(), { signal }),
    () => client.embeddingsSync({ input: 'x' }, { signal }),
  ]) {
    const err = await caught(call);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /cannot take a signal/);
  }
  // An absent signal is no signal.
  assert.equal(client.chatSync(hello('sync'), { signal: undefined }).choices[0].message.content, 'echo: sync');
  assert.equal(client.chatSync(hello('sync'), { signal: null, timeoutMs: 10_000 }).choices[0].message.content, 'echo: sync');
  const bad = await caught(() => client.chat(hello(), { signal: { aborted: false } }));
  assert.equal(bad.code, 'INVALID_ARGUMENT');
  assert.match(bad.message, /options\.signal must be an AbortSignal/);
  assert.throws(() => client.chatStream(hello(), { signal: 42 }), { code: 'INVALID_ARGUMENT' });
  // The options are not changed by having their signal split off.
  const options = { timeoutMs: 10_000, signal };
  await client.chat(hello(), options);
  assert.equal(options.signal, signal);
});
