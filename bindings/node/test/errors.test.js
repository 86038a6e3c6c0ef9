'use strict';
// Every docs/contract.md §8 code the Node surface can reach, thrown by sync calls and rejected by async
// ones as an `Error` with the same `.code` and properties; and the HTTP table of errors.json.

const test = require('node:test');
const assert = require('node:assert/strict');
const aigw = require('..');
const { API_KEY, readVectors, startMock, closedPort, caught } = require('./helpers');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

const hello = { messages: [{ role: 'user', content: 'hello' }] };
const PROPERTIES = ['code', 'status', 'message', 'httpStatus', 'providerCode', 'retryAfterMs', 'requestId'];

/** The error of a sync and an async call doing the same thing; both must agree. */
async function syncAndAsync(client, request, options) {
  const syncErr = await caught(() => client.chatSync(request, options));
  const asyncErr = await caught(() => client.chat(request, options));
  for (const err of [syncErr, asyncErr]) {
    assert.ok(err instanceof Error, 'an Error instance');
    for (const p of PROPERTIES) assert.ok(p in err, `.${p} present`);
    assert.ok(Array.isArray(err.attempts));
    assert.equal(err.status, aigw.codes[err.code]);
  }
  const shape = (e) => ({ code: e.code, status: e.status, httpStatus: e.httpStatus, providerCode: e.providerCode, retryAfterMs: e.retryAfterMs });
  assert.deepEqual(shape(syncErr), shape(asyncErr));
  return asyncErr;
}

test('INVALID_ARGUMENT: request not an object, stream: true on chat', async () => {
  const client = new aigw.Client(mock.profile());
  let err = await syncAndAsync(client, ['not', 'an', 'object']);
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.match(err.message, /JSON object/);
  err = await syncAndAsync(client, { ...hello, stream: true });
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.match(err.message, /chat_stream|chatStream/);
  err = await syncAndAsync(client, { ...hello, model: 42 });
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.equal(err.httpStatus, null);
});

test('INVALID_ARGUMENT: NaN and ±Infinity are refused, not sent as null', async () => {
  const client = new aigw.Client(mock.profile());
  const { requests } = await mock.control('stats');
  const cases = [
    [{ ...hello, temperature: NaN }, undefined, /^request\.temperature is NaN\b/],
    [{ ...hello, logit_bias: { 50256: -Infinity } }, undefined, /^request\.logit_bias\.50256 is -Infinity\b/],
    [{ messages: [{ role: 'user', content: 'hi', weights: [1, Infinity] }] }, undefined, /^request\.messages\[0\]\.weights\[1\] is Infinity\b/],
    [hello, { timeoutMs: Infinity }, /^options\.timeoutMs is Infinity\b/],
    [hello, { gateway: { metadata: { score: NaN } } }, /^options\.gateway\.metadata\.score is NaN\b/],
  ];
  for (const [request, options, message] of cases) {
    const err = await syncAndAsync(client, request, options);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, message);
    assert.match(err.message, /JSON cannot represent/);
    const thrown = await caught(() => client.chatStream(request, options));
    assert.equal(thrown.code, 'INVALID_ARGUMENT', 'chatStream() throws at once');
    assert.match(thrown.message, message);
  }
  assert.equal((await mock.control('stats')).requests, requests, 'nothing was sent');
  const profile = await caught(() => new aigw.Client(mock.profile({ requestTimeoutMs: NaN })));
  assert.equal(profile.code, 'INVALID_ARGUMENT');
  assert.match(profile.message, /^profile\.requestTimeoutMs is NaN\b/);
  // Real nulls, and "null" inside strings, still go through.
  const answer = client.chatSync({ messages: [{ role: 'user', content: 'x:null,[null' }], stop: null, user: 'null' });
  assert.equal(answer.choices[0].message.content, 'echo: x:null,[null');
});

test('CONFIG: bad profile (thrown by the constructor) and unresolved placeholders (every call)', async () => {
  const bad = await caught(() => new aigw.Client({ kind: 'cloudfare' }));
  assert.equal(bad.code, 'CONFIG');
  assert.equal(bad.status, 3);
  assert.match(bad.message, /did you mean/);
  const client = new aigw.Client({ kind: 'cloudflare', apiKey: 'k', model: 'openai/gpt-4o-mini' });
  const err = await syncAndAsync(client, hello);
  assert.equal(err.code, 'CONFIG');
  assert.match(err.message, /requires tenant-scoped base_url configuration/);
  const models = await caught(() => client.listModels());
  assert.equal(models.code, 'CONFIG');
});

test('MISSING_CREDENTIALS before any I/O', async () => {
  const saved = [process.env.CLOUDFLARE_API_KEY, process.env.CLOUDFLARE_AI_GATEWAY_API_KEY];
  delete process.env.CLOUDFLARE_API_KEY;
  delete process.env.CLOUDFLARE_AI_GATEWAY_API_KEY;
  try {
    const before = (await mock.control('requests')).length;
    const client = new aigw.Client(mock.profile({ apiKey: undefined }));
    const err = await syncAndAsync(client, hello);
    assert.equal(err.code, 'MISSING_CREDENTIALS');
    assert.match(err.message, /CLOUDFLARE_API_KEY or CLOUDFLARE_AI_GATEWAY_API_KEY/);
    assert.deepEqual(err.attempts, []);
    assert.equal((await mock.control('requests')).length, before, 'nothing was sent');
  } finally {
    if (saved[0] !== undefined) process.env.CLOUDFLARE_API_KEY = saved[0];
    if (saved[1] !== undefined) process.env.CLOUDFLARE_AI_GATEWAY_API_KEY = saved[1];
  }
});

test('AUTH: the provider refuses the key (401)', async () => {
  const client = new aigw.Client(mock.profile({ apiKey: 'wrong-key' }));
  const err = await syncAndAsync(client, hello);
  assert.equal(err.code, 'AUTH');
  assert.equal(err.httpStatus, 401);
  assert.equal(err.providerCode, 'invalid_api_key');
  assert.match(err.requestId, /^req-/);
  assert.ok(!err.message.includes('wrong-key'), 'the key never shows in a message');
});

test('RATE_LIMITED carries retryAfterMs', async () => {
  const client = new aigw.Client(mock.profile());
  const err = await syncAndAsync(client, hello, { headers: { 'x-mock-fault': 'status=429;retry_after=60' } });
  assert.equal(err.code, 'RATE_LIMITED');
  assert.equal(err.httpStatus, 429);
  assert.equal(err.retryAfterMs, 60000);
  assert.equal(err.providerCode, 'mock_429');
  assert.equal(err.attempts.length, 1);
  assert.equal(err.attempts[0].status, 429);
  assert.equal(err.attempts[0].error, 'RATE_LIMITED');
});

test('TIMEOUT: per-request timeoutMs on a slow answer', async () => {
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 1 }));
  const options = { timeoutMs: 200, headers: { 'x-mock-fault': 'delay_ms=1500' } };
  const started = Date.now();
  const err = await caught(() => client.chat(hello, options));
  assert.ok(Date.now() - started < 1400, 'the deadline was honoured');
  assert.equal(err.code, 'TIMEOUT');
  assert.match(err.message, /response/);
  const syncErr = await caught(() => client.chatSync(hello, options));
  assert.equal(syncErr.code, 'TIMEOUT');
});

test('CONNECTION: nothing listens on the port', async () => {
  const port = await closedPort();
  const client = new aigw.Client(mock.profile({ baseUrl: `http://127.0.0.1:${port}/v1/acc/gw/openai/compat`, retryMaxAttempts: 1 }));
  const err = await syncAndAsync(client, hello);
  assert.equal(err.code, 'CONNECTION');
  assert.equal(err.httpStatus, null);
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('PROVIDER: other statuses carry httpStatus and providerCode', async () => {
  const client = new aigw.Client(mock.profile());
  const err = await syncAndAsync(client, hello, { headers: { 'x-mock-fault': 'status=400;error_code=bad_thing' } });
  assert.equal(err.code, 'PROVIDER');
  assert.equal(err.httpStatus, 400);
  assert.equal(err.providerCode, 'bad_thing');
  const invalidProvider = await syncAndAsync(client, { ...hello, model: 'nope/model' });
  assert.equal(invalidProvider.providerCode, '2008');
});

test('MODEL_SELECTION: auto model and a failing catalog', async () => {
  const client = new aigw.Client(mock.profile({ model: 'auto', retryMaxAttempts: 1, headers: { 'x-mock-fault': 'models:status=500' } }));
  const err = await syncAndAsync(client, hello);
  assert.equal(err.code, 'MODEL_SELECTION');
  assert.match(err.message, /pin an explicit provider\.model or add preferred_models/);
});

test('PROTOCOL: malformed JSON from upstream', async () => {
  const client = new aigw.Client(mock.profile());
  const err = await syncAndAsync(client, hello, { headers: { 'x-mock-fault': 'malformed_json' } });
  assert.equal(err.code, 'PROTOCOL');
  assert.match(err.message, /not valid JSON/);
});

test('UNSUPPORTED: a request feature the protocol has no form for', async () => {
  const client = new aigw.Client({ kind: 'anthropic', baseUrl: mock.origin, apiKey: API_KEY, model: 'claude-sonnet-4-5' });
  const err = await syncAndAsync(client, { ...hello, n: 2 });
  assert.equal(err.code, 'UNSUPPORTED');
  assert.match(err.message, /`n`/);
});

test('CANCELLED: a cancelled stream', async () => {
  const client = new aigw.Client(mock.profile());
  const stream = client.chatStream(hello, { headers: { 'x-mock-fault': 'chunks=50' } });
  const first = await stream.next();
  assert.equal(first.done, false);
  stream.cancel();
  const err = await caught(() => stream.next());
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'CANCELLED');
  assert.equal(err.status, 13);
});

test('errors.json HTTP table: status → code', async (t) => {
  const { http } = readVectors('errors');
  const client = new aigw.Client(mock.profile({ retryMaxAttempts: 1 }));
  for (const row of http) {
    await t.test(String(row.status), async () => {
      const err = await caught(() => client.chat(hello, { headers: { 'x-mock-fault': `status=${row.status}` } }));
      assert.equal(err.code, row.code);
      assert.equal(err.httpStatus, row.status);
    });
  }
});

test('secrets an upstream echoes back are scrubbed from messages, inspect output, streams and doctor', async () => {
  const util = require('node:util');
  const key = mock.profile().apiKey;
  const token = 'cfut-node-gateway-token-5150';
  const client = new aigw.Client(mock.profile({ gateway: { authorization: token }, retryMaxAttempts: 1 }));
  const scrubbed = (text) => {
    assert.ok(!text.includes(key) && !text.includes(token), text);
    assert.ok(text.includes('[redacted]'), text);
  };
  const err = await syncAndAsync(client, hello, { headers: { 'x-mock-fault': 'status=401;echo_secrets' } });
  assert.equal(err.code, 'AUTH');
  scrubbed(`${err.message}\n${util.inspect(err)}\n${JSON.stringify(err)}`);

  for (const spec of ['sse_error_frame;split_bytes;echo_secrets', 'sse_event_error;echo_secrets']) {
    const streamErr = await caught(async () => {
      for await (const _ of client.chatStream(hello, { headers: { 'x-mock-fault': spec } })) { /* drain */ }
    });
    scrubbed(`${streamErr.message}\n${util.inspect(streamErr)}`);
  }

  const echoingCatalog = new aigw.Client(mock.profile({ headers: { 'x-mock-fault': 'models:status=403;models:echo_secrets' } }));
  const report = JSON.stringify(await echoingCatalog.doctor());
  assert.ok(!report.includes(key) && report.includes('[redacted]'), report);
});

test('anthropic kind: chat, stream and errors translated to and from Messages', async () => {
  const claude = new aigw.Client({ kind: 'anthropic', baseUrl: mock.origin, apiKey: API_KEY, model: 'claude-sonnet-4-5', retryMaxAttempts: 1 });
  const answer = await claude.chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi there' }] });
  assert.equal(answer.choices[0].message.content, 'echo: hi there');
  assert.equal(answer.aigw.usage.input_tokens, 2);
  const sent = (await mock.control('requests')).at(-1);
  assert.ok(sent.path.endsWith('/v1/messages'));
  assert.equal(JSON.parse(sent.body).system, 'Be brief.');
  const chunks = [];
  for await (const chunk of claude.chatStream({ messages: [{ role: 'user', content: 'stream this' }] })) chunks.push(chunk);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo: stream this');
  const err = await caught(() => claude.chat(hello, { headers: { 'x-mock-fault': 'status=529;error_type=overloaded_error' } }));
  assert.equal(err.code, 'PROVIDER');
  assert.equal(err.providerCode, 'overloaded_error');
});
