// A TCP proxy between the browser and the server that can take the WebSockets away while plain
// HTTP keeps working: the network dropping a long-lived socket, as a phone on a train sees it.
//
//   cutWebSockets()       destroys every upgraded (WebSocket) connection, both sides: the browser
//                         sees its sockets close with 1006, the server sees the peer go away.
//   refuseUpgrades(bool)  while true, a new WebSocket handshake is dropped before it reaches the
//                         server (the browser sees the handshake fail: 1006); HTTP passes.
//   stats                 connections, upgrades (WebSocket handshakes seen), refused, cut.
//
// Bytes pass through unchanged, Host header included, so the server's Origin check (Origin host
// equals Host) holds when the page is loaded from the proxy's origin.

import { EventEmitter, once } from 'node:events';
import net from 'node:net';

const UPGRADE_HEADER = /\r\nupgrade:[ \t]*websocket[ \t]*\r\n/i;

/**
 * @param {{targetPort: number, targetHost?: string}} opts
 * @returns {Promise<{port, origin, stats, cutWebSockets, refuseUpgrades, waitForStat, close}>}
 */
export async function startProxy({ targetPort, targetHost = '127.0.0.1' }) {
  const stats = { connections: 0, upgrades: 0, refused: 0, cut: 0 };
  const events = new EventEmitter(); // 'upgrade', 'refused', 'cut' after the counter moved
  const bump = (key, n = 1) => { stats[key] += n; events.emit(key, stats[key]); };
  const wsPairs = new Set();
  const allSockets = new Set();
  let refusing = false;

  const track = (s) => { allSockets.add(s); s.on('close', () => allSockets.delete(s)); };

  const server = net.createServer((client) => {
    stats.connections++;
    track(client);
    client.setNoDelay(true);
    client.on('error', () => {});
    let head = Buffer.alloc(0);

    const onFirstData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < 64 * 1024) return; // the request head is not complete yet
      client.off('data', onFirstData);
      client.pause();
      const isUpgrade = UPGRADE_HEADER.test(head.subarray(0, end < 0 ? head.length : end + 2).toString('latin1'));
      if (isUpgrade) {
        bump('upgrades');
        if (refusing) {
          client.destroy();
          bump('refused');
          return;
        }
      }
      const upstream = net.connect({ port: targetPort, host: targetHost });
      track(upstream);
      upstream.setNoDelay(true);
      const pair = { client, upstream };
      if (isUpgrade) wsPairs.add(pair);
      const done = () => {
        wsPairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', done);
      upstream.on('close', done);
      client.on('close', done);
      upstream.write(head);
      head = null;
      if (!isUpgrade) {
        // Belt and braces: browsers open a fresh connection for each WebSocket, but should a
        // keep-alive HTTP connection ever carry a handshake, it is counted and treated as one.
        client.on('data', (c) => {
          if (UPGRADE_HEADER.test(c.toString('latin1'))) {
            bump('upgrades');
            if (refusing) { done(); bump('refused'); return; }
            wsPairs.add(pair);
          }
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    };
    client.on('data', onFirstData);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    stats,
    /** Number of WebSocket connections currently passing through. */
    get openWebSockets() { return wsPairs.size; },
    /** Destroys every upgraded connection (both sides). @returns {number} how many were cut */
    cutWebSockets() {
      let n = 0;
      for (const pair of [...wsPairs]) {
        wsPairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
        n++;
      }
      bump('cut', n);
      return n;
    },
    /**
     * Resolves once `stats[key] >= n` (event-driven: the counters emit when they move); rejects
     * after `timeout` ms.
     */
    async waitForStat(key, n, timeout = 30000) {
      if (stats[key] >= n) return stats[key];
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), timeout);
      try {
        while (stats[key] < n) await once(events, key, { signal: ac.signal });
        return stats[key];
      } catch (err) {
        if (ac.signal.aborted) throw new Error(`proxy: ${key} stayed at ${stats[key]} (< ${n}) for ${timeout} ms`);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    /** While `on`, new WebSocket handshakes are dropped; plain HTTP passes. */
    refuseUpgrades(on = true) { refusing = !!on; },
    get refusing() { return refusing; },
    async close() {
      for (const s of allSockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
