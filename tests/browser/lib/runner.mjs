// A tiny test runner: tests run one after another, each with its own time limit; a failure
// prints its error and the server log's tail; the last line is exactly `N passed, M failed`.

export class AssertionError extends Error {
  constructor(message) { super(message); this.name = 'AssertionError'; }
}

/** Throws unless `cond` holds. */
export function assert(cond, message = 'assertion failed') {
  if (!cond) throw new AssertionError(message);
}

/** Throws unless `actual === expected`. */
export function assertEqual(actual, expected, what = 'value') {
  if (actual !== expected) {
    throw new AssertionError(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function withTimeout(promise, ms, name) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`test "${name}" took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Runs `tests` ([{name, fn, timeout}]) in order. `setup()` makes the shared fixture (or throws:
 * then every test counts as failed), `teardown(fixture)` always runs. `each(fixture, name)`
 * returns a per-test context whose `close()` runs after the test, pass or fail, and whose
 * `onFailure(err)` may add diagnostics.
 * @returns {Promise<{passed: number, failed: number}>}
 */
export async function run(tests, { setup, teardown, each, filter = null, log = console.log }) {
  const selected = filter ? tests.filter((t) => filter.test(t.name)) : tests;
  let passed = 0;
  let failed = 0;
  let fixture = null;
  const started = Date.now();
  try {
    fixture = await setup();
  } catch (err) {
    log(`setup failed: ${err && err.stack ? err.stack : err}`);
    for (const t of selected) log(`not ok - ${t.name} (setup failed)`);
    failed = selected.length || 1;
    log(`${passed} passed, ${failed} failed`);
    return { passed, failed };
  }
  try {
    for (const t of selected) {
      const t0 = Date.now();
      const ctx = await each(fixture, t.name);
      try {
        await withTimeout(Promise.resolve().then(() => t.fn(ctx)), t.timeout || 120000, t.name);
        await ctx.close({ failed: false });
        passed++;
        log(`ok - ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (err) {
        failed++;
        log(`not ok - ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        log(indent(err && err.stack ? err.stack : String(err)));
        try { await ctx.onFailure(err); } catch (e) { log(indent(`(collecting diagnostics failed: ${e})`)); }
        try { await ctx.close({ failed: true }); } catch { /* already broken */ }
      }
    }
  } finally {
    try { await teardown(fixture); } catch (err) { log(`teardown failed: ${err && err.stack ? err.stack : err}`); failed++; }
  }
  if (!selected.length) { log('no test selected'); failed++; }
  log(`# browser suite took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  log(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}

export function indent(text, by = '    ') {
  return String(text).split('\n').map((l) => by + l).join('\n');
}
