// Who may talk to the Wyoming server off loopback: the token comparison, the client allow-list, and the
// connection gate that reads nothing past the first event until the peer is admitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ClientAllowList, clientEntryProblem, PRE_AUTH_LIMITS, tokenMatches } from './access.ts';
import { encodeEvent, WyomingConnection, WyomingDecoder } from './protocol.ts';

test('tokenMatches: exact token only; empty, missing or non-string tokens never match', () => {
  assert.ok(tokenMatches('s3cret-token', 's3cret-token'));
  assert.ok(!tokenMatches('s3cret-tokeN', 's3cret-token'));
  assert.ok(!tokenMatches('s3cret', 's3cret-token'), 'a prefix is not the token');
  assert.ok(!tokenMatches('s3cret-token-and-more', 's3cret-token'));
  assert.ok(!tokenMatches('', 's3cret-token'));
  assert.ok(!tokenMatches(undefined, 's3cret-token'));
  assert.ok(!tokenMatches(['s3cret-token'], 's3cret-token'));
  assert.ok(!tokenMatches('', ''), 'an empty expected token refuses everyone');
});

test('ClientAllowList: addresses and CIDRs, IPv4 clients of dual-stack sockets, nothing else', () => {
  const list = new ClientAllowList(['192.168.1.20', '10.1.0.0/16', 'fd00::/8']);
  assert.ok(list.allows('192.168.1.20'));
  assert.ok(list.allows('::ffff:192.168.1.20'), 'IPv4-mapped form of an allowed address');
  assert.ok(!list.allows('192.168.1.21'));
  assert.ok(list.allows('10.1.255.3'));
  assert.ok(!list.allows('10.2.0.1'));
  assert.ok(list.allows('fd12::1'));
  assert.ok(!list.allows('fe80::1'));
  assert.ok(!list.allows(undefined), 'no address (a closed socket) is never allowed');
  assert.ok(!new ClientAllowList([]).allows('127.0.0.1'), 'an empty list allows nobody');
});

test('clientEntryProblem: host names, bad prefixes and junk are named', () => {
  for (const ok of ['192.168.1.20', '192.168.1.0/24', '0.0.0.0/0', '::1', 'fd00::/8', '::ffff:10.0.0.1'])
    assert.equal(clientEntryProblem(ok), undefined, ok);
  for (const bad of [
    'homeassistant.local',
    '192.168.1.0/33',
    '192.168.1.0/',
    '10.0.0.0/8/1',
    'fd00::/129',
    '*',
  ])
    assert.match(clientEntryProblem(bad) ?? '', /not an IP address|bad prefix/, bad);
  assert.throws(() => new ClientAllowList(['homeassistant.local']), /host names are not accepted/);
});

test('decoder: at most maxEvents per push, the rest decoded later under new limits', () => {
  const d = new WyomingDecoder(PRE_AUTH_LIMITS);
  const bytes = Buffer.concat([
    encodeEvent({ type: 'auth', data: { token: 't' } }),
    encodeEvent({
      type: 'audio-chunk',
      data: { rate: 16000, width: 2, channels: 1 },
      payload: new Uint8Array(64),
    }),
  ]);
  const first = d.push(bytes, 1);
  assert.deepEqual(
    first.map((e) => e.type),
    ['auth'],
  );
  assert.throws(
    () => d.push(new Uint8Array(0)),
    /payload_length 64 exceeds the limit of 0/,
    'pre-auth: no payload',
  );
  const d2 = new WyomingDecoder(PRE_AUTH_LIMITS);
  d2.push(bytes, 1);
  d2.setLimits({});
  assert.deepEqual(
    d2.push(new Uint8Array(0)).map((e) => [e.type, e.payload?.length]),
    [['audio-chunk', 64]],
  );
});

test('a gated connection reads one event, then nothing until admitted', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const socket = await accepted;
  try {
    const conn = new WyomingConnection(socket, PRE_AUTH_LIMITS, { keepOpenOnError: true, gated: true });
    client.write(
      Buffer.concat([
        encodeEvent({ type: 'auth', data: { token: 't' } }),
        encodeEvent({ type: 'ping' }),
        encodeEvent({ type: 'audio-chunk', payload: new Uint8Array(5000) }),
      ]),
    );
    assert.equal((await conn.next(2000))?.type, 'auth');
    await assert.rejects(conn.next(200), /No Wyoming event within 200 ms/, 'nothing more before admit');
    conn.admit({});
    assert.equal((await conn.next(2000))?.type, 'ping');
    const chunk = await conn.next(2000);
    assert.equal(chunk?.payload?.length, 5000, 'payloads allowed once admitted');
  } finally {
    client.destroy();
    socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
