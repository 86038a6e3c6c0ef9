'use strict';
// index.d.ts is hand-written: check that it declares everything index.js exports, and that the
// native classes index.js drives are those of the generated binding.d.ts (whose freshness
// scripts/test-node.sh checks by regenerating it).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const aigw = require('..');

const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
const binding = fs.readFileSync(path.join(__dirname, '..', 'binding.d.ts'), 'utf8');

function declaredMembers(source, className) {
  const start = source.indexOf(`class ${className} `);
  assert.ok(start >= 0, `class ${className} is declared`);
  const body = source.slice(source.indexOf('{', start) + 1, source.indexOf('\n}', start));
  return new Set([...body.matchAll(/^\s+(?:static\s+|readonly\s+)?(\[?[\w.]+\]?)\s*[(:<]/gm)].map((m) => m[1]));
}

function prototypeMembers(cls) {
  return Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== 'constructor');
}

test('index.d.ts declares every export', () => {
  for (const name of Object.keys(aigw)) {
    assert.match(dts, new RegExp(`export declare (class|function|const) ${name}\\b`), `${name} is declared`);
  }
});

test('index.d.ts declares every public method', () => {
  const client = declaredMembers(dts, 'Client');
  for (const name of [...prototypeMembers(aigw.Client), 'fromConfig']) assert.ok(client.has(name), `Client.${name}`);
  const stream = declaredMembers(dts, 'ChatStream');
  for (const name of prototypeMembers(aigw.ChatStream)) assert.ok(stream.has(name), `ChatStream.${name}`);
  assert.ok(stream.has('[Symbol.asyncIterator]'));
});

test('index.js uses only what binding.d.ts declares', () => {
  const source = fs.readFileSync(path.join(__dirname, '..', 'index.js'), 'utf8');
  const used = new Set([...source.matchAll(/(?<![#\w])native\.(\w+)/g)].map((m) => m[1]));
  for (const name of used) {
    assert.match(binding, new RegExp(`export declare (class|function|const) ${name}\\b`), `binding.d.ts has ${name}`);
  }
  const nativeClient = declaredMembers(binding, 'NativeClient');
  for (const m of ['describe', 'doctor', 'listModels', 'chat', 'chatSync', 'chatStream', 'fromConfig']) {
    assert.ok(nativeClient.has(m), `NativeClient.${m}`);
  }
  const nativeStream = declaredMembers(binding, 'NativeStream');
  for (const m of ['meta', 'ready', 'wait', 'cancel', 'close']) assert.ok(nativeStream.has(m), `NativeStream.${m}`);
});

test('package.json carries the workspace version, license, description and repository', () => {
  const pkg = require('../package.json');
  const cargo = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'Cargo.toml'), 'utf8');
  const section = cargo.slice(cargo.indexOf('[workspace.package]'));
  const field = (name) => section.match(new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, 'm'))[1];
  assert.equal(pkg.version, field('version'));
  assert.equal(pkg.license, field('license'));
  assert.equal(pkg.description, field('description'));
  assert.equal(pkg.repository.url, field('repository'));
  assert.equal(aigw.version, pkg.version);
  assert.equal(pkg.name, 'aigw');
  assert.equal(pkg.devDependencies['@napi-rs/cli'], '3.10.12');
});
