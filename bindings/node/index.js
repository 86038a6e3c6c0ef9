'use strict';
// aigw for Node: routes and authenticates LLM requests (Cloudflare AI Gateway first).
//
// A thin layer over the native addon (binding.d.ts): objects cross as JSON text, because
// JSON.stringify/JSON.parse are faster than walking objects through Node-API, and streams read
// on next() only (never ahead, so streams nobody consumes hold no thread), handing over every
// chunk that arrived together in one batch. An AbortSignal stays on this side: it is split off the options before they are encoded, and its `abort`
// cancels a native handle (NativeCancel) or the native stream. Types and docs: index.d.ts.

const fs = require('node:fs');
const path = require('node:path');

/** The platforms published as `aigw-<platform>` packages (npm/<platform>/ in the repository). */
const PUBLISHED_PLATFORMS = ['linux-x64-gnu'];

/** True on a musl libc (Alpine): its Node reports no glibc version. */
function isMusl() {
  try {
    // Cheap first: glibc's ldd is a script naming GNU libc, musl's mentions musl.
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    return !report?.header?.glibcVersionRuntime;
  }
}

/** The napi-rs platform name: `linux-x64-gnu`, `linux-arm64-musl`, `darwin-arm64`, `win32-x64-msvc`… */
function platformName() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') return `${base}-${isMusl() ? 'musl' : 'gnu'}`;
  if (process.platform === 'win32') return `${base}-msvc`;
  return base;
}

/**
 * The addon, napi-rs layout: a local build next to this file (`npm run build` in the repository)
 * wins; else the platform package `aigw-<platform>` that npm installed as an optional dependency.
 */
function loadBinding() {
  const platform = platformName();
  const file = path.join(__dirname, `aigw.${platform}.node`);
  if (fs.existsSync(file)) return require(file);
  const pkg = `aigw-${platform}`;
  try {
    return require(pkg);
  } catch (cause) {
    if (!(cause && cause.code === 'MODULE_NOT_FOUND' && String(cause.message).includes(`'${pkg}'`))) throw cause;
    let hint;
    if (fs.existsSync(path.join(__dirname, 'Cargo.toml'))) {
      hint = `this is a source checkout: run \`npm ci && npm run build\` in ${__dirname}`;
    } else if (PUBLISHED_PLATFORMS.includes(platform)) {
      hint = `${pkg} is an optional dependency of aigw: reinstall without --omit=optional / --no-optional, ` +
        `or install it next to aigw (npm install ${pkg})`;
    } else {
      hint = `aigw publishes addons for ${PUBLISHED_PLATFORMS.join(', ')} only; build it from source ` +
        '(the aigw repository: `npm ci && npm run build` in bindings/node)';
    }
    const err = new Error(
      `aigw has no native addon for this platform (${platform}): looked for the package ${pkg} ` +
        `and the file ${file}; ${hint}`,
      { cause },
    );
    err.code = 'AIGW_NO_NATIVE_ADDON';
    throw err;
  }
}

const native = loadBinding();

if (process.env.AIGW_NODE_MAX_THREADS !== undefined) {
  process.emitWarning(
    'AIGW_NODE_MAX_THREADS is no longer read: async calls run on aigw\'s shared worker pool, whose ceiling is AIGW_MAX_THREADS (default 10000)',
    { type: 'DeprecationWarning', code: 'AIGW_NODE_MAX_THREADS' },
  );
}

/** JSON text for the native side; values JSON cannot hold are INVALID_ARGUMENT errors. */
function encode(value, what) {
  if (value === undefined) return 'null';
  let text;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    return native.invalidArgument(`${what} cannot be encoded as JSON: ${cause.message}`);
  }
  // JSON.stringify writes NaN and ±Infinity as null, where Python refuses them. A null value is
  // their only trace, and it always follows `:`, `,` or `[` (no spaces are written), so the
  // value is walked a second time only when the text holds one, not for every request
  // (`includes` first: a plain search is cheaper than the expression on every request).
  if (text === 'null' || (text.includes('null') && NULL_VALUE.test(text))) refuseNonFinite(value, what);
  return text;
}

const NULL_VALUE = /[:,[]null/;

/** Throws INVALID_ARGUMENT naming the first NaN or ±Infinity in `value`, if there is one. */
function refuseNonFinite(value, what) {
  const paths = new WeakMap();
  JSON.stringify(value, function locate(key, item) {
    const within = paths.get(this);
    const path = within === undefined ? what : `${within}${Array.isArray(this) ? `[${key}]` : `.${key}`}`;
    // The replacer sees values after toJSON() but before Number objects are unwrapped.
    if ((typeof item === 'number' || item instanceof Number) && !Number.isFinite(Number(item))) {
      native.invalidArgument(
        `${path} is ${Number(item)}, which JSON cannot represent (JSON.stringify would send null); use a finite number`,
      );
    }
    if (item !== null && typeof item === 'object') paths.set(item, path);
    return item;
  });
}

function encodeOptions(options) {
  return options === undefined || options === null ? undefined : encode(options, 'options');
}

// ---- AbortSignal ----

function isAbortSignal(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.aborted === 'boolean' &&
    typeof value.addEventListener === 'function' &&
    typeof value.removeEventListener === 'function'
  );
}

/**
 * Splits `signal` off per-request options: `[rest, signal]`, the rest to be JSON-encoded and
 * `signal` an AbortSignal or null. Options without a `signal` are returned as they are.
 */
function splitSignal(options) {
  if (options === undefined || options === null || typeof options !== 'object') return [options, null];
  const signal = options.signal;
  if (signal === undefined) return [options, null];
  const { signal: _signal, ...rest } = options;
  if (signal === null) return [rest, null];
  if (!isAbortSignal(signal)) native.invalidArgument('options.signal must be an AbortSignal');
  return [rest, signal];
}

/** Refuses a signal on a synchronous call, which blocks the event loop and so could never see an abort. */
function refuseSignal(options, call) {
  const [rest, signal] = splitSignal(options);
  if (signal !== null) {
    native.invalidArgument(
      `${call} cannot take a signal: it blocks the event loop, so an abort could never be seen; use the async call`,
    );
  }
  return rest;
}

function defineHidden(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
}

/** Turns a CANCELLED error of an aborted call into an `AbortError` (same code and properties). */
function markAborted(err, signal) {
  if (err === null || typeof err !== 'object' || err.code !== 'CANCELLED' || err.name === 'AbortError') return err;
  defineHidden(err, 'name', 'AbortError');
  if (signal.reason !== undefined && err.cause === undefined) defineHidden(err, 'cause', signal.reason);
  const stack = err.stack;
  if (typeof stack === 'string' && stack.startsWith('Error: ')) defineHidden(err, 'stack', `AbortError: ${stack.slice(7)}`);
  return err;
}

function abortError(signal, call) {
  return markAborted(native.cancelledError(`${call} was aborted by its AbortSignal`), signal);
}

/**
 * One `abort` listener per signal, whatever the number of aigw calls watching it, so a signal
 * shared by many calls in flight raises no MaxListenersExceededWarning: signal → callbacks.
 */
const watched = new WeakMap();

/** Calls `callback` once `signal` aborts; returns the function that stops watching. */
function watchAbort(signal, callback) {
  let watch = watched.get(signal);
  if (watch === undefined) {
    const callbacks = new Set();
    const fire = () => {
      watched.delete(signal);
      for (const cb of [...callbacks]) cb();
      callbacks.clear();
    };
    watch = { callbacks, fire };
    watched.set(signal, watch);
    signal.addEventListener('abort', fire, { once: true });
  }
  const { callbacks, fire } = watch;
  callbacks.add(callback);
  return () => {
    if (callbacks.delete(callback) && callbacks.size === 0 && watched.get(signal) === watch) {
      watched.delete(signal);
      signal.removeEventListener('abort', fire);
    }
  };
}

/**
 * Runs `start(handle)` (a native call returning a promise) under `signal`: an aborted signal
 * rejects at once with an AbortError and no native call; an abort in flight cancels `handle`
 * (core closes the connection within about 100 ms, and no retry follows) and rejects at once.
 * The listener is removed when the call settles.
 */
function abortable(signal, call, start) {
  if (signal.aborted) return Promise.reject(abortError(signal, call));
  const handle = new native.NativeCancel();
  return new Promise((resolve, reject) => {
    const unwatch = watchAbort(signal, () => {
      handle?.cancel();
      reject(abortError(signal, call));
    });
    let running;
    try {
      running = start(handle);
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (value) => {
        unwatch();
        resolve(value);
      },
      (err) => {
        unwatch();
        reject(signal.aborted ? markAborted(err, signal) : err);
      },
    );
  });
}

/** `listModels()` options: `{ signal }` only (the catalog call takes no request options). */
function listModelsSignal(options) {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object') native.invalidArgument('listModels() options must be an object: { signal }');
  for (const key of Object.keys(options)) {
    if (key !== 'signal') native.invalidArgument(`listModels() options take only \`signal\`, not \`${key}\``);
  }
  return splitSignal(options)[1];
}

const kNative = Symbol('aigw.native');

class Client {
  /**
   * @param {object} profile docs/contract.md §3 fields, camelCase (`baseUrl`) or snake_case (`base_url`).
   */
  constructor(profile) {
    this[kNative] = new native.NativeClient(encode(profile, 'profile'));
  }

  /** A client from a TOML/JSON config file; `profile` picks one of its profiles. */
  static fromConfig(configPath, profile) {
    const client = Object.create(Client.prototype);
    client[kNative] = native.NativeClient.fromConfig(
      String(configPath),
      profile === undefined || profile === null ? null : String(profile),
    );
    return client;
  }

  describe() {
    return JSON.parse(this[kNative].describe());
  }

  async doctor() {
    return JSON.parse(await this[kNative].doctor());
  }

  /** The catalog. With `{ signal }`, an abort rejects at once and cancels the catalog request. */
  async listModels(options) {
    const signal = listModelsSignal(options);
    const inner = this[kNative];
    const text = signal === null
      ? await inner.listModels()
      : await abortable(signal, 'listModels()', (handle) => inner.listModels(handle));
    return JSON.parse(text);
  }

  async chat(request, options) {
    const [rest, signal] = splitSignal(options);
    const requestText = encode(request, 'request');
    const optionsText = encodeOptions(rest);
    const inner = this[kNative];
    const text = signal === null
      ? await inner.chat(requestText, optionsText)
      : await abortable(signal, 'chat()', (handle) => inner.chat(requestText, optionsText, handle));
    return JSON.parse(text);
  }

  chatSync(request, options) {
    const rest = refuseSignal(options, 'chatSync()');
    return JSON.parse(this[kNative].chatSync(encode(request, 'request'), encodeOptions(rest)));
  }

  /**
   * Creates embeddings: `{ input, model? }` (OpenAI JSON); the model is the request's, else the
   * profile's `embeddingModel`. Resolves with the upstream body plus `aigw` metadata.
   */
  async embeddings(request, options) {
    const [rest, signal] = splitSignal(options);
    const requestText = encode(request, 'request');
    const optionsText = encodeOptions(rest);
    const inner = this[kNative];
    const text = signal === null
      ? await inner.embeddings(requestText, optionsText)
      : await abortable(signal, 'embeddings()', (handle) => inner.embeddings(requestText, optionsText, handle));
    return JSON.parse(text);
  }

  /** `embeddings()` blocking the event loop. */
  embeddingsSync(request, options) {
    const rest = refuseSignal(options, 'embeddingsSync()');
    return JSON.parse(this[kNative].embeddingsSync(encode(request, 'request'), encodeOptions(rest)));
  }

  chatStream(request, options) {
    const [rest, signal] = splitSignal(options);
    let handle = null;
    if (signal !== null && signal.aborted) {
      // A stream that failed with CANCELLED before any I/O.
      handle = new native.NativeCancel();
      handle.cancel();
    }
    const nativeStream = this[kNative].chatStream(encode(request, 'request'), encodeOptions(rest), handle);
    return new ChatStream(nativeStream, signal);
  }
}

/**
 * Removes the abort listener of a stream that was dropped unfinished: the listener holds the
 * native stream only weakly, so garbage collection still closes the stream's connection.
 */
const abandonedStreams = new FinalizationRegistry((unwatch) => unwatch());

const DONE = Object.freeze({ value: undefined, done: true });

class ChatStream {
  #native;
  #meta = null;
  #pending = null;
  /** Chunks received in one batch and not handed out yet (from index #taken), or null. */
  #batch = null;
  #taken = 0;
  /** The AbortSignal of the call, or null. */
  #signal = null;
  /** Stops watching the signal, while the stream is unfinished; else null. */
  #unwatch = null;

  /**
   * @param {import('./binding').NativeStream} nativeStream
   * @param {AbortSignal | null} [signal] aborting it cancels the stream
   */
  constructor(nativeStream, signal = null) {
    this.#native = nativeStream;
    this.#signal = signal;
    if (signal !== null && !signal.aborted) {
      const weak = new WeakRef(nativeStream);
      this.#unwatch = watchAbort(signal, () => weak.deref()?.cancel());
      abandonedStreams.register(this, this.#unwatch, this);
    }
  }

  /** The stream ended (or was closed): the signal no longer matters. */
  #detach() {
    if (this.#unwatch !== null) {
      this.#unwatch();
      this.#unwatch = null;
      abandonedStreams.unregister(this);
    }
  }

  /** The error a read or `ready()` rejects with: an AbortError when the signal aborted. */
  #failed(err) {
    this.#detach();
    return this.#signal !== null && this.#signal.aborted ? markAborted(err, this.#signal) : err;
  }

  /** Response metadata (status, model, request_id, cf_aig_log_id, attempts…) once the headers arrived, else null; `usage` and `cost` once the stream ended. */
  get meta() {
    if (this.#meta === null) {
      const text = this.#native.meta();
      if (text !== null) this.#meta = JSON.parse(text);
    }
    return this.#meta;
  }

  /** Resolves with `meta` once the headers arrived; rejects with the error if opening failed. */
  async ready() {
    try {
      await this.#native.ready();
    } catch (err) {
      throw this.#failed(err);
    }
    return this.meta;
  }

  next() {
    if (this.#batch !== null && this.#signal !== null && this.#signal.aborted) {
      // Aborted: what was received and not handed out is dropped, the read rejects.
      this.#batch = null;
    }
    if (this.#batch !== null) {
      // Chunks that arrived together with the last one: no native call.
      const value = this.#batch[this.#taken++];
      if (this.#taken === this.#batch.length) this.#batch = null;
      return Promise.resolve({ value, done: false });
    }
    if (this.#pending !== null) {
      const again = () => this.next();
      return this.#pending.then(again, again);
    }
    const reading = this.#native.wait().then(
      (text) => {
        this.#pending = null;
        if (text === '') {
          // The final metadata (with usage and cost) replaces the one read at open.
          this.#meta = null;
          this.#detach();
          return DONE;
        }
        const batch = JSON.parse(text);
        if (batch.length > 1) {
          this.#batch = batch;
          this.#taken = 1;
        }
        return { value: batch[0], done: false };
      },
      (err) => {
        this.#pending = null;
        throw this.#failed(err);
      },
    );
    this.#pending = reading;
    return reading;
  }

  /** Called by `break`/`return` inside `for await`: closes the stream. */
  return() {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Cancels the stream: the next read rejects with CANCELLED; the connection is dropped. */
  cancel() {
    this.#batch = null;
    this.#detach();
    this.#native.cancel();
  }

  /** Closes the stream: iteration ends; an unfinished connection is dropped. */
  close() {
    this.#batch = null;
    this.#detach();
    this.#native.close();
  }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  ChatStream.prototype[Symbol.asyncDispose] = function asyncDispose() {
    this.close();
    return Promise.resolve();
  };
}

/** Every built-in provider kind (docs/contract.md §2). */
function providers() {
  return JSON.parse(native.providersJson());
}

/** The kind an id or alias names (trimmed, case-insensitive); throws CONFIG when unknown. */
function resolveKind(name) {
  return JSON.parse(native.resolveKindJson(String(name)));
}

/** Error codes (docs/contract.md §8) and their C status numbers. */
const codes = Object.freeze(JSON.parse(native.codesJson()));

module.exports = {
  Client,
  ChatStream,
  providers,
  resolveKind,
  codes,
  version: native.VERSION,
};
