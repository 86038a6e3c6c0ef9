'use strict';
// Replays the language-neutral vectors in tests/vectors/: kinds, routes, credential precedence
// and the error-code table (the HTTP statuses are replayed against the mock in errors.test.js),
// and through the mock the gateway calls and doctor cases and the protocol translations with
// their retries.

const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const aigw = require('..');
const { API_KEY, readVectors, caught, startMock } = require('./helpers');

const routes = readVectors('routes');
const credentials = readVectors('credentials');
const errors = readVectors('errors');

function assertContains(message, texts) {
  for (const text of texts ?? []) {
    assert.ok(message.includes(text), `expected ${JSON.stringify(message)} to contain ${JSON.stringify(text)}`);
  }
}

test('kind vectors: resolveKind()', async (t) => {
  for (const c of routes.kinds) {
    await t.test(JSON.stringify(c.input), async () => {
      if (c.error) {
        const err = await caught(() => aigw.resolveKind(c.input));
        assert.equal(err.code, c.error);
        assertContains(err.message, c.message_contains);
      } else {
        assert.equal(aigw.resolveKind(c.input).id, c.id);
      }
    });
  }
});

test('route vectors: describe().route', async (t) => {
  for (const c of routes.routes) {
    await t.test(c.name, async () => {
      if (c.error) {
        const err = await caught(() => new aigw.Client(c.profile));
        assert.ok(err instanceof Error);
        assert.equal(err.code, c.error);
        assertContains(err.message, c.message_contains);
        for (const secret of c.message_excludes ?? []) {
          assert.ok(!err.message.includes(secret) && !util.inspect(err).includes(secret), secret);
        }
        return;
      }
      const route = new aigw.Client(c.profile).describe().route;
      for (const [field, expected] of Object.entries(c.expect)) {
        assert.deepEqual(route[field], expected, `route.${field}`);
      }
    });
  }
});

test('credential vectors: describe().credentials and MISSING_CREDENTIALS', async (t) => {
  // Every variable any case or kind could read, cleared before each case, restored at the end.
  const names = new Set();
  for (const c of credentials.cases) {
    Object.keys(c.env).forEach((n) => names.add(n));
    if (c.profile.api_key_env) names.add(c.profile.api_key_env);
    aigw.resolveKind(c.profile.kind).credential_envs.forEach((n) => names.add(n));
  }
  names.add('UNSET_VAR');
  const saved = new Map([...names].map((n) => [n, process.env[n]]));
  try {
    for (const c of credentials.cases) {
      await t.test(c.name, async () => {
        for (const n of names) delete process.env[n];
        Object.assign(process.env, c.env);
        const client = new aigw.Client(c.profile);
        const described = client.describe().credentials;
        if (c.error) {
          assert.equal(described.status, 'missing');
          assert.equal(described.source, null);
          if (c.message) assert.equal(described.message, c.message);
          assertContains(described.message, c.message_contains);
          // Every network call fails with it, before any I/O, sync and async alike.
          const request = { messages: [{ role: 'user', content: 'x' }] };
          for (const err of [await caught(() => client.chatSync(request)), await caught(() => client.chat(request))]) {
            assert.equal(err.code, c.error);
            assert.equal(err.message, described.message);
            assert.equal(err.httpStatus, null);
          }
        } else {
          assert.equal(described.status, 'resolved');
          assert.equal(described.source, c.expect.source);
          assert.equal(described.key_pool_size, c.expect.key_pool_size);
          // The key never shows up in the descriptor.
          const text = JSON.stringify(client.describe());
          for (const key of c.expect.keys) assert.ok(!text.includes(`"${key}"`), `key ${key} leaked`);
        }
      });
    }
  } finally {
    for (const [n, v] of saved) {
      if (v === undefined) delete process.env[n];
      else process.env[n] = v;
    }
  }
});

test('error table: codes and status numbers', () => {
  const expected = Object.fromEntries(errors.codes.map((c) => [c.code, c.status]));
  assert.deepEqual({ ...aigw.codes }, expected);
  assert.ok(Object.isFrozen(aigw.codes));
});

const gateway = readVectors('gateway');

/** `value` with `{origin}` in every string replaced by the mock's address. */
function withOrigin(value, origin) {
  if (typeof value === 'string') return value.replaceAll('{origin}', origin);
  if (Array.isArray(value)) return value.map((v) => withOrigin(v, origin));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withOrigin(v, origin)]));
  }
  return value;
}

test('gateway option vectors: describe().gateway_headers', async (t) => {
  for (const c of gateway.options) {
    await t.test(c.name, async () => {
      if (c.error) {
        const err = await caught(() => new aigw.Client(c.profile));
        assert.equal(err.code, c.error);
        assertContains(err.message, c.message_contains);
        return;
      }
      assert.deepEqual(new aigw.Client(c.profile).describe().gateway_headers, c.expect_headers);
    });
  }
});

test('gateway call vectors: refusals, retries, metadata and sent headers through the mock', async (t) => {
  for (const c of gateway.calls) {
    await t.test(c.name, async () => {
      const mock = await startMock({ flags: c.mock_args });
      try {
        const client = new aigw.Client(withOrigin(c.profile, mock.origin));
        const ask = { messages: [{ role: 'user', content: 'hi' }] };
        if (c.error) {
          const err = await caught(() => client.chat(ask, c.options));
          assert.equal(err.code, c.error.code, err.message);
          if ('provider_code' in c.error) assert.equal(err.providerCode, c.error.provider_code);
          if ('http_status' in c.error) assert.equal(err.httpStatus, c.error.http_status);
          assertContains(err.message, c.error.message_contains);
          for (const secret of c.error.message_excludes ?? []) {
            assert.ok(!err.message.includes(secret) && !util.inspect(err).includes(secret), secret);
          }
          if (c.error.key_indexes) {
            assert.deepEqual(err.attempts.map((a) => a.key_index), c.error.key_indexes);
          }
        } else {
          const meta = (await client.chat(ask, c.options)).aigw;
          for (const [field, expected] of Object.entries(c.expect_meta ?? {})) {
            if (field === 'attempts_key_indexes') {
              assert.deepEqual(meta.attempts.map((a) => a.key_index), expected);
            } else if (field === 'attempts_statuses') {
              assert.deepEqual(meta.attempts.map((a) => a.status), expected);
            } else {
              assert.deepEqual(meta[field], expected, field);
            }
          }
          for (const field of c.expect_meta_absent ?? []) assert.ok(!(field in meta), field);
        }
        const requests = await mock.control('requests');
        if (c.sent_headers) {
          const { headers } = requests[requests.length - 1];
          for (const [name, value] of Object.entries(c.sent_headers)) assert.equal(headers[name], value, name);
        }
        const chats = requests.filter((r) => r.path.endsWith('/chat/completions')).length;
        assert.equal(chats, c.chat_requests);
      } finally {
        await mock.stop();
      }
    });
  }
});

test('doctor vectors: route lints and probe advice', async (t) => {
  for (const c of gateway.doctor) {
    await t.test(c.name, async () => {
      const mock = await startMock({ flags: c.mock_args });
      try {
        const report = await new aigw.Client(withOrigin(c.profile, mock.origin)).doctor();
        if (c.status) assert.equal(report.status, c.status);
        const check = report.checks.find((x) => x.name === c.check);
        assert.equal(check.status, c.check_status, check.detail);
        assertContains(check.detail, c.detail_contains);
        for (const part of c.detail_excludes ?? []) assert.ok(!check.detail.includes(part), part);
      } finally {
        await mock.stop();
      }
    });
  }
});

const protocols = readVectors('protocols');

function protocolClient(mock, kind, overrides = {}) {
  return new aigw.Client({ ...withOrigin(protocols.profiles[kind], mock.origin), api_key: API_KEY, ...overrides });
}

const statuses = (attempts) => attempts.map((a) => a.status);

/**
 * Text, tool name and arguments, finish reason, usage and attempt statuses of an answer or a
 * whole stream.
 */
async function protocolOutcome(client, fault, stream) {
  const ask = { messages: [{ role: 'user', content: 'hi' }] };
  const options = { headers: { 'x-mock-fault': fault } };
  if (!stream) {
    const answer = await client.chat(ask, options);
    const message = answer.choices[0].message;
    const call = message.tool_calls?.[0]?.function ?? {};
    return { content: message.content, tool_name: call.name ?? null, tool_arguments: call.arguments ?? null,
      finish_reason: answer.choices[0].finish_reason, usage: answer.aigw.usage,
      attempts_statuses: statuses(answer.aigw.attempts) };
  }
  let text = '';
  let name = null;
  let args = '';
  let finish = null;
  const s = client.chatStream(ask, options);
  for await (const chunk of s) {
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      for (const call of choice.delta?.tool_calls ?? []) {
        name = call.function?.name ?? name;
        args += call.function?.arguments ?? '';
      }
      finish = choice.finish_reason ?? finish;
    }
  }
  return { content: text || null, tool_name: name, tool_arguments: args || null, finish_reason: finish, usage: s.meta.usage,
    attempts_statuses: statuses(s.meta.attempts) };
}

test('protocol vectors: requests, answers and errors translated through the mock', async (t) => {
  const mock = await startMock();
  try {
    for (const c of protocols.requests) {
      await t.test(c.name, async () => {
        await protocolClient(mock, c.kind).chat(c.request);
        const requests = await mock.control('requests');
        assert.deepEqual(JSON.parse(requests.at(-1).body), c.upstream);
      });
    }
    for (const c of protocols.answers) {
      await t.test(c.name, async () => {
        const got = await protocolOutcome(protocolClient(mock, c.kind), c.fault, c.stream);
        for (const [field, want] of Object.entries(c.expect)) assert.deepEqual(got[field], want, field);
      });
    }
    for (const c of protocols.errors) {
      await t.test(c.name, async () => {
        const err = await caught(() => protocolOutcome(protocolClient(mock, c.kind), c.fault, c.stream));
        assert.equal(err.code, c.code, err.message);
        if (c.provider_code) assert.equal(err.providerCode, c.provider_code);
        assertContains(err.message, c.message_contains);
      });
    }
  } finally {
    await mock.stop();
  }
});

test('protocol retry vectors: retried, exhausted and refused attempts through the mock', async (t) => {
  const mock = await startMock();
  try {
    assert.ok(protocols.retries.length > 0);
    for (const c of protocols.retries) {
      await t.test(c.name, async () => {
        // Recorded requests and per-tag fault counters start empty.
        await mock.control('reset', 'POST');
        const client = protocolClient(mock, c.kind, protocols.retry_profile);
        if (c.error) {
          const err = await caught(() => protocolOutcome(client, c.fault, c.stream));
          assert.equal(err.code, c.error.code, err.message);
          assert.equal(err.providerCode, c.error.provider_code);
          assert.equal(err.httpStatus, c.error.http_status);
          assert.deepEqual(statuses(err.attempts), c.error.attempts_statuses);
        } else {
          const got = await protocolOutcome(client, c.fault, c.stream);
          for (const [field, want] of Object.entries(c.expect)) assert.deepEqual(got[field], want, field);
        }
        assert.equal((await mock.control('stats')).requests, c.requests, 'requests the mock received');
      });
    }
  } finally {
    await mock.stop();
  }
});
