'use strict';
// The Client surface against the mock gateway: chat (async and sync), per-request options,
// camelCase profiles, config files, the catalog, describe/doctor, and the module exports.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const aigw = require('..');
const { ACCOUNT, GATEWAY, API_KEY, startMock, caught } = require('./helpers');

let mock;
test.before(async () => {
  mock = await startMock();
});
test.after(async () => {
  await mock?.stop();
});

const hello = (text = 'hello') => ({ messages: [{ role: 'user', content: text }] });

async function lastRequest() {
  const requests = await mock.control('requests');
  return requests[requests.length - 1];
}

test('module exports', () => {
  assert.equal(typeof aigw.Client, 'function');
  assert.equal(typeof aigw.ChatStream, 'function');
  assert.match(aigw.version, /^\d+\.\d+\.\d+/);
  assert.equal(aigw.version, require('../package.json').version);
  const kinds = aigw.providers();
  assert.ok(kinds.length >= 40);
  const cloudflare = kinds.find((k) => k.id === 'cloudflare_ai_gateway');
  assert.deepEqual(cloudflare.credential_envs.slice(0, 2), ['CLOUDFLARE_API_KEY', 'CLOUDFLARE_AI_GATEWAY_API_KEY']);
  assert.equal(aigw.resolveKind(' Cloudflare ').id, 'cloudflare_ai_gateway');
  // providers() hands out a fresh copy each time.
  kinds[0].id = 'changed';
  assert.notEqual(aigw.providers()[0].id, 'changed');
});

test('chat() resolves with the upstream body and aigw metadata', async () => {
  const client = new aigw.Client(mock.profile());
  const response = await client.chat({ ...hello('hi there'), temperature: 0.5, user: 'u-1' });
  assert.equal(response.choices[0].message.content, 'echo: hi there');
  assert.equal(response.aigw.status, 200);
  assert.equal(response.aigw.model, 'openai/gpt-4o-mini');
  assert.match(response.aigw.request_id, /^req-/);
  assert.match(response.aigw.cf_aig_log_id, /^mocklog-/);
  assert.equal(response.aigw.attempts.length, 1);
  // The request went through untouched, model filled in, the key as a bearer token.
  const sent = await lastRequest();
  assert.equal(sent.path, `/v1/${ACCOUNT}/${GATEWAY}/openai/compat/chat/completions`);
  assert.equal(sent.headers.authorization, `Bearer ${API_KEY}`);
  const body = JSON.parse(sent.body);
  assert.deepEqual(body, { ...hello('hi there'), temperature: 0.5, user: 'u-1', model: 'openai/gpt-4o-mini' });
});

test('chatSync() returns the same shape', () => {
  const client = new aigw.Client(mock.profile());
  const response = client.chatSync(hello('sync'));
  assert.equal(response.choices[0].message.content, 'echo: sync');
  assert.equal(response.aigw.status, 200);
});

test('a request model overrides the profile model', async () => {
  const client = new aigw.Client(mock.profile());
  const response = await client.chat({ ...hello(), model: 'openai/gpt-4o' });
  assert.equal(response.aigw.model, 'openai/gpt-4o');
});

test('per-request options: gateway, headers, timeoutMs', async () => {
  const client = new aigw.Client(mock.profile({ gateway: { cacheTtl: 120, metadata: { team: 'a' } } }));
  await client.chat(hello(), {
    gateway: { skipCache: true, metadata: { userId: 'u-9' }, eventId: 'ev-1' },
    headers: { 'X-Trace-Id': 'trace-1' },
    timeoutMs: 5000,
  });
  const sent = await lastRequest();
  assert.equal(sent.headers['x-trace-id'], 'trace-1');
  assert.equal(sent.headers['cf-aig-cache-ttl'], '120');
  assert.equal(sent.headers['cf-aig-skip-cache'], 'true');
  assert.equal(sent.headers['cf-aig-event-id'], 'ev-1');
  assert.deepEqual(JSON.parse(sent.headers['cf-aig-metadata']), { userId: 'u-9' });
  // snake_case options are accepted as well; a per-request header wins over the profile's.
  const client2 = new aigw.Client(mock.profile({ headers: { 'X-Trace-Id': 'profile' } }));
  client2.chatSync(hello(), { headers: { 'X-Trace-Id': 'request' }, timeout_ms: 5000, gateway: { cache_ttl: 60 } });
  const sent2 = await lastRequest();
  assert.equal(sent2.headers['x-trace-id'], 'request');
  assert.equal(sent2.headers['cf-aig-cache-ttl'], '60');
});

test('bad options are errors with a code', async () => {
  const client = new aigw.Client(mock.profile());
  let err = await caught(() => client.chat(hello(), { gateway: { cacheTtl: 5 } }));
  assert.equal(err.code, 'CONFIG');
  assert.match(err.message, /cache_ttl/);
  err = await caught(() => client.chat(hello(), { timeout: 5 }));
  assert.equal(err.code, 'CONFIG');
  assert.match(err.message, /unknown field `options\.timeout`/);
  err = await caught(() => client.chatStream(hello(), { headers: { 'X-Bad': 'a\r\nb' } }));
  assert.equal(err.code, 'CONFIG');
});

test('camelCase and snake_case profiles are the same profile', () => {
  const camel = new aigw.Client({
    kind: 'cloudflare',
    accountId: ACCOUNT,
    gatewayName: GATEWAY,
    apiKeyEnv: 'AIGW_NODE_TEST_NO_SUCH_VAR',
    apiKey: 'k',
    preferredModels: ['openai/gpt-4o'],
    connectTimeoutMs: 1234,
    requestTimeoutMs: 4321,
    streamIdleTimeoutMs: 5555,
    retryMaxAttempts: 2,
    retryInitialBackoffMs: 100,
    retryMaxBackoffMs: 200,
    modelCatalogCacheTtlMs: 0,
    modelCatalogStaleIfErrorMs: 0,
    maxResponseBytes: 4096,
    allowHttp: true,
    headers: { 'X-Custom-Header': 'v' },
    gateway: { cacheTtl: 300, skipCache: true, collectLog: false, collectLogPayload: false, requestTimeoutMs: 9000, maxAttempts: 2, retryDelayMs: 100, backoff: 'linear', eventId: 'e', byokAlias: 'b', cacheKey: 'ck', metadata: { userId: 'x' } },
  }).describe();
  const snake = new aigw.Client({
    kind: 'cloudflare',
    account_id: ACCOUNT,
    gateway_name: GATEWAY,
    api_key_env: 'AIGW_NODE_TEST_NO_SUCH_VAR',
    api_key: 'k',
    preferred_models: ['openai/gpt-4o'],
    connect_timeout_ms: 1234,
    request_timeout_ms: 4321,
    stream_idle_timeout_ms: 5555,
    retry_max_attempts: 2,
    retry_initial_backoff_ms: 100,
    retry_max_backoff_ms: 200,
    model_catalog_cache_ttl_ms: 0,
    model_catalog_stale_if_error_ms: 0,
    max_response_bytes: 4096,
    allow_http: true,
    headers: { 'X-Custom-Header': 'v' },
    gateway: { cache_ttl: 300, skip_cache: true, collect_log: false, collect_log_payload: false, request_timeout_ms: 9000, max_attempts: 2, retry_delay_ms: 100, backoff: 'linear', event_id: 'e', byok_alias: 'b', cache_key: 'ck', metadata: { userId: 'x' } },
  }).describe();
  assert.deepEqual(camel, snake);
  assert.equal(camel.transport.connect_timeout_ms, 1234);
  assert.equal(camel.route.gateway_name, GATEWAY);
  assert.deepEqual(camel.gateway.metadata, { userId: 'x' });
  assert.deepEqual(camel.headers, ['X-Custom-Header']);
  assert.deepEqual(camel.model.preferred_models, ['openai/gpt-4o']);
});

test('a key given in both spellings is a CONFIG error', async () => {
  const err = await caught(() => new aigw.Client({ kind: 'openai', baseUrl: 'https://a.example', base_url: 'https://b.example' }));
  assert.equal(err.code, 'CONFIG');
  assert.match(err.message, /provider\.base_url is given twice/);
  const missing = await caught(() => new aigw.Client());
  assert.equal(missing.code, 'CONFIG');
  const noKind = await caught(() => new aigw.Client({}));
  assert.equal(noKind.code, 'CONFIG');
  assert.match(noKind.message, /provider\.kind is required/);
});

test('Client.fromConfig selects a profile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-node-config-'));
  try {
    const file = path.join(dir, 'aigw.toml');
    fs.writeFileSync(file, [
      'active_provider = "mock"',
      '',
      '[providers.mock]',
      'kind = "cloudflare_ai_gateway"',
      `base_url = "${mock.baseUrl}"`,
      `api_key = "${API_KEY}"`,
      'model = "openai/gpt-4o-mini"',
      '',
      '[providers.other]',
      'kind = "openai"',
      '',
    ].join('\n'));
    const active = aigw.Client.fromConfig(file);
    assert.ok(active instanceof aigw.Client);
    assert.equal(active.describe().kind, 'cloudflare_ai_gateway');
    assert.equal(active.chatSync(hello('from config')).choices[0].message.content, 'echo: from config');
    assert.equal(aigw.Client.fromConfig(file, 'other').describe().kind, 'openai');
    const err = (() => { try { aigw.Client.fromConfig(file, 'nope'); } catch (e) { return e; } })();
    assert.equal(err.code, 'CONFIG');
    assert.match(err.message, /nope/);
    const missing = (() => { try { aigw.Client.fromConfig(path.join(dir, 'missing.toml')); } catch (e) { return e; } })();
    assert.equal(missing.code, 'CONFIG');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('listModels() and auto model selection', async () => {
  const client = new aigw.Client(mock.profile({ model: 'auto', preferredModels: ['openai/gpt-4o'] }));
  const models = await client.listModels();
  assert.deepEqual(models.map((m) => m.id), ['openai/gpt-4o-mini', 'openai/gpt-4o', 'workers-ai/@cf/meta/llama-3.1-8b-instruct']);
  assert.equal(typeof models[0].cost_in, 'number');
  const response = await client.chat(hello());
  assert.equal(response.aigw.model, 'openai/gpt-4o');
});

test('describe() shows the operator-visible route without the key', () => {
  const client = new aigw.Client(mock.profile());
  const d = client.describe();
  assert.equal(d.kind, 'cloudflare_ai_gateway');
  assert.equal(d.route.account_id, ACCOUNT);
  assert.equal(d.route.gateway_name, GATEWAY);
  assert.equal(d.route.request_endpoint, `${mock.baseUrl}/chat/completions`);
  assert.equal(d.credentials.source, 'provider.api_key (inline)');
  assert.ok(!JSON.stringify(d).includes(API_KEY));
  assert.equal(d.version, aigw.version);
});

test('doctor() passes against the mock and fails on a closed port', async () => {
  const report = await new aigw.Client(mock.profile({ model: 'auto' })).doctor();
  const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
  assert.deepEqual(status, { config: 'pass', credentials: 'pass', route: 'pass', model_probe: 'pass' });
  assert.equal(report.status, 'pass');
  const unresolved = await new aigw.Client({ kind: 'cloudflare', apiKey: 'k' }).doctor();
  assert.ok(unresolved.checks.some((c) => c.status === 'fail'));
});

test('request encoding failures are INVALID_ARGUMENT', async () => {
  const client = new aigw.Client(mock.profile());
  const cyclic = hello();
  cyclic.self = cyclic;
  for (const call of [() => client.chat(cyclic), () => client.chatSync({ n: 1n })]) {
    const err = await caught(call);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /request cannot be encoded as JSON/);
  }
});
