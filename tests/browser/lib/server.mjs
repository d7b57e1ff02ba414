// Starts the real `hearth` binary for the browser tests: a fresh database file in a temporary
// directory, a staff user made with `hearth user create --staff` first, then `hearth serve` on a
// free port (read back from the "hearth listening port=NNNN" log line). Stops it with SIGTERM.

import { spawn } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs the binary to completion, feeding `input` on stdin. Resolves with {code, stdout, stderr}. */
function runOnce(bin, args, { input = '', env = process.env, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${bin} ${args.join(' ')} timed out`)); }, timeoutMs);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(input);
  });
}

/**
 * Starts a server. Returns {port, origin, dbPath, staff: {username, password}, logPath, stop(), logTail()}.
 * @param {{bin: string, env?: Object, startTimeoutMs?: number}} opts
 */
export async function startServer({ bin, env = {}, startTimeoutMs = 60000 }) {
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new Error(`hearth binary not found or not executable at ${bin} (set HEARTH_BIN, or build it first)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'hearth-browser-'));
  const dbPath = join(dir, 'hearth.db');
  const logPath = join(dir, 'server.log');
  // Flags are given explicitly; HEARTH_* variables of the caller's environment would otherwise
  // change what the tests run against.
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HEARTH_')));
  const childEnv = { ...baseEnv, RUST_LOG: process.env.RUST_LOG || 'info', ...env };

  const staff = { username: 'staff_browser', password: `staff-${Math.random().toString(36).slice(2)}-pw` };
  const made = await runOnce(bin, ['user', 'create', staff.username, '--staff', '--db', dbPath], {
    input: `${staff.password}\n`, env: childEnv,
  });
  if (made.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`hearth user create failed (${made.code}): ${made.stderr || made.stdout}`);
  }

  // Tasks pause 10 ms per progress report, so a progress bar can be watched moving whatever
  // the build's speed. Every page signs up from 127.0.0.1: the per-address registration quota
  // (10 an hour by default) would stop the suite halfway.
  const child = spawn(bin, ['serve', '--bind', '127.0.0.1:0', '--db', dbPath, '--task-slowdown-ms', '10',
    '--register-max-per-window', '1000'], {
    env: childEnv, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = createWriteStream(logPath);
  let exited = null;
  // A run that dies (Ctrl-C, a closed pipe) takes its server with it.
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); });
  });

  const port = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`hearth did not report its port within ${startTimeoutMs} ms`)), startTimeoutMs);
    const onData = (d) => {
      log.write(d);
      if (buf === null) return;
      buf += d.toString('utf8').replace(ANSI, '');
      const m = /hearth listening[^\n]*\bport=(\d+)/.exec(buf);
      if (m) { clearTimeout(timer); buf = null; resolve(Number(m[1])); }
      else if (buf.length > 1e6) buf = buf.slice(-1e5);
    };
    child.stderr.on('data', onData);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    exitPromise.then((e) => { clearTimeout(timer); reject(new Error(`hearth exited before listening: ${JSON.stringify(e)}`)); });
  }).catch(async (err) => {
    child.kill('SIGKILL');
    const tail = await readFile(logPath, 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${err.message}\n--- server log ---\n${tail.slice(-4000)}`);
  });

  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    dbPath,
    logPath,
    staff,
    /** The last `chars` characters of the server log. */
    async logTail(chars = 4000) {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text.replace(ANSI, '').slice(-chars);
    },
    /** SIGTERM, wait for exit (SIGKILL after 15 s), remove the temporary directory. */
    async stop({ keep = false } = {}) {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exitPromise;
        clearTimeout(killer);
      }
      process.off('exit', killOnExit);
      await new Promise((resolve) => log.end(resolve));
      if (!keep) await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };
}
