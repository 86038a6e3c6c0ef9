'use strict';
// Replays the language-neutral vectors in tests/vectors/: kinds, routes, credential precedence
// and the error-code table (the HTTP statuses are replayed against the mock in errors.test.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const aigw = require('..');
const { readVectors, caught } = require('./helpers');

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
