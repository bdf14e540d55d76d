// The PUB socket under attack: anonymous and unlisted subscribers of a CURVE publisher receive nothing while the
// right keys do; publishing off loopback without CURVE refuses to start; no memory text in the network view;
// the secret key in no log line or answer.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { ConfigError, createLogger, jsonClient, listen, stop } from '@synthians/kit';
import { curvePublicKeyOf, KEY_FILE, pubSecurity, z85Decode, z85Encode } from './curve.ts';
import { networkPayload } from './publisher.ts';
import { dreamworldService, type DreamworldInstance } from './service.ts';
import { startDreamworld, subscribe, type TestSubscriber } from './test-support.ts';

// Nothing listens here: the simulations below need neither the memory core nor the neural memory.
const nowhere = { MEMORY_CORE_URL: 'http://127.0.0.1:9', NEURAL_MEMORY_URL: 'http://127.0.0.1:9' };
const scenario = {
  state: { money: 0 },
  actions: [
    { name: 'save', effects: { money: 1 } },
    { name: 'spend', effects: { money: -1 } },
  ],
  horizon: 1,
  metrics: [{ var: 'money', weight: 1 }],
};

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'synthians-dreamworld-pub-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Waits long enough for a message that would have arrived (the right subscriber got its copy already). */
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('CURVE keys', () => {
  test('Z85 round-trips; the public key derived from a secret key is ZeroMQ’s', () => {
    for (let i = 0; i < 20; i++) {
      const pair = zmq.curveKeyPair();
      assert.equal(z85Encode(z85Decode(pair.secretKey)!), pair.secretKey);
      assert.equal(curvePublicKeyOf(pair.secretKey), pair.publicKey);
    }
    // RFC 32's test vector.
    assert.equal(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b])), 'HelloWorld');
    assert.equal(z85Decode('Hello World'), undefined);
  });

  test('the key file is generated once, private, and reused', () => {
    const dir = tempDir();
    const config = {
      DREAM_PUB_HOST: '127.0.0.1',
      DREAM_PUB_CURVE: true,
      DREAM_PUB_CURVE_CLIENT_KEYS: [],
    };
    const first = pubSecurity(config, dir)!;
    assert.equal(first.source, join(dir, KEY_FILE));
    assert.equal(statSync(first.source).mode & 0o777, 0o600);
    const again = pubSecurity(config, dir)!;
    assert.equal(again.secretKey, first.secretKey);
    assert.equal(again.publicKey, curvePublicKeyOf(first.secretKey));
    writeFileSync(first.source, 'not a key\n');
    assert.throws(() => pubSecurity(config, dir), /does not hold a CURVE secret key/);
  });
});

describe('the PUB socket’s binding', () => {
  test('a non-loopback DREAM_PUB_HOST without CURVE refuses to start, naming the variable', async () => {
    for (const host of ['0.0.0.0', '192.168.1.20', '::']) {
      await assert.rejects(
        startDreamworld({ ...nowhere, DREAM_PUB_HOST: host }),
        (err: unknown) =>
          err instanceof ConfigError &&
          /DREAM_PUB_CURVE_SECRET_KEY/.test(err.message) &&
          err.issues.some((i) => i.variable === 'DREAM_PUB_CURVE_SECRET_KEY'),
      );
    }
  });

  test('HOST no longer decides where the PUB socket binds: DREAM_PUB_HOST does (127.0.0.1 by default)', async () => {
    const dir = tempDir();
    // The runner's HTTP address off loopback (allowed with a token); the PUB socket stays on loopback.
    const instance = await dreamworldService.create({
      env: { ...nowhere, SYNTHIANS_API_TOKEN: 't0ken', DREAM_PUB_PORT: '0', DREAM_IDLE_MS: '0' },
      dataDir: dir,
      host: '0.0.0.0',
      logger: createLogger('test', 'silent'),
    });
    try {
      await instance.start!(); // binds the PUB socket only; HTTP is reached by inject
      const status = await instance.app.inject({
        method: 'GET',
        url: '/v1/status',
        headers: { authorization: 'Bearer t0ken' },
      });
      assert.match(status.json().pub_endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(status.json().pub_security, 'none');
    } finally {
      await instance.close();
    }
    // Off loopback with CURVE on (the key is generated in the data directory) passes the check.
    const curved = await dreamworldService.create({
      env: { ...nowhere, DREAM_PUB_HOST: '0.0.0.0', DREAM_PUB_CURVE: 'true' },
      dataDir: dir,
      logger: createLogger('test', 'silent'),
    });
    await curved.close();
  });

  test('a secret key from the environment is masked in the debug configuration line', async () => {
    const { secretKey } = zmq.curveKeyPair();
    const lines: string[] = [];
    const instance = await dreamworldService.create({
      env: { ...nowhere, DREAM_PUB_CURVE_SECRET_KEY: secretKey, LOG_LEVEL: 'debug' },
      dataDir: tempDir(),
      logger: createLogger('test', 'debug', { write: (s: string) => void lines.push(s) }),
    });
    await instance.close();
    assert.ok(
      lines.some((l) => l.includes('DREAM_PUB_CURVE_SECRET_KEY')),
      'the configuration was logged',
    );
    assert.ok(!lines.join('').includes(secretKey));
  });

  test('a malformed key is a ConfigError that does not echo the secret', async () => {
    const secret = 'x'.repeat(39);
    await assert.rejects(
      startDreamworld({ ...nowhere, DREAM_PUB_CURVE_SECRET_KEY: secret }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /DREAM_PUB_CURVE_SECRET_KEY/.test(err.message) &&
        !err.message.includes(secret),
    );
    await assert.rejects(
      startDreamworld({ ...nowhere, DREAM_PUB_CURVE_CLIENT_KEYS: 'abc' }),
      /DREAM_PUB_CURVE_CLIENT_KEYS/,
    );
  });
});

describe('a CURVE publisher under attack', () => {
  test('anonymous subscribers get nothing; one with the server public key gets the events', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    const logger = createLogger('test', 'debug', { write: (s: string) => void lines.push(s) });
    const instance = (await dreamworldService.create({
      env: { ...nowhere, DREAM_PUB_PORT: '0', DREAM_IDLE_MS: '0', DREAM_PUB_CURVE: 'true' },
      dataDir: dir,
      host: '127.0.0.1',
      port: 0,
      logger,
    })) as DreamworldInstance;
    const { url } = await listen(instance);
    const subs: TestSubscriber[] = [];
    try {
      const request = jsonClient(url);
      const status = (await request('GET', '/v1/status')).body;
      assert.equal(status.pub_security, 'curve');
      assert.equal(status.pub_clients, 'any_with_server_key');
      const serverKey = status.pub_curve_server_key as string;
      const { secretKey } = pubSecurity(
        { DREAM_PUB_HOST: '127.0.0.1', DREAM_PUB_CURVE: true, DREAM_PUB_CURVE_CLIENT_KEYS: [] },
        join(dir, 'dreamworld'),
      )!;
      assert.equal(serverKey, curvePublicKeyOf(secretKey));
      assert.equal((await request('GET', '/health')).body.checks.pub_socket.security, 'curve');

      const port = instance.pubPort()!;
      const anonymous = await subscribe(port);
      const wrongServer = await subscribe(port, ['dream.'], { serverKey: zmq.curveKeyPair().publicKey });
      const client = await subscribe(port, ['dream.'], { serverKey });
      subs.push(anonymous, wrongServer, client);

      const r = await request('POST', '/v1/simulate', { scenario, iterations: 50, seed: 1, id: 'sim_curve' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const got = await client.next('dream.simulation', (b) => b.simulation_id === 'sim_curve');
      assert.equal(got.best_action, 'save');
      await settle();
      assert.deepEqual(anonymous.frames, [], 'an anonymous (NULL) subscriber completes no handshake');
      assert.deepEqual(wrongServer.frames, [], 'a subscriber with another server key completes no handshake');

      // The public key is logged at info, the secret key nowhere (not even the debug configuration line).
      const log = lines.join('');
      assert.ok(log.includes(serverKey), 'the server public key is logged');
      assert.ok(!log.includes(secretKey), 'the secret key is never logged');
      assert.ok(!JSON.stringify(status).includes(secretKey));
    } finally {
      for (const s of subs) s.close();
      await stop(instance);
    }
  });

  test('with DREAM_PUB_CURVE_CLIENT_KEYS only the listed subscribers get the events', async () => {
    const server = zmq.curveKeyPair();
    const listed = zmq.curveKeyPair();
    const dw = await startDreamworld({
      ...nowhere,
      DREAM_PUB_CURVE_SECRET_KEY: server.secretKey,
      DREAM_PUB_CURVE_CLIENT_KEYS: `${zmq.curveKeyPair().publicKey},${listed.publicKey}`,
    });
    const subs: TestSubscriber[] = [];
    try {
      const status = (await dw.request('GET', '/v1/status')).body;
      assert.equal(status.pub_curve_server_key, server.publicKey);
      assert.equal(status.pub_clients, 'listed');
      const anonymous = await subscribe(dw.pubPort);
      const unlisted = await subscribe(dw.pubPort, ['dream.'], { serverKey: server.publicKey });
      const allowed = await subscribe(dw.pubPort, ['dream.'], { serverKey: server.publicKey, ...listed });
      subs.push(anonymous, unlisted, allowed);
      const r = await dw.request('POST', '/v1/simulate', {
        scenario,
        iterations: 50,
        seed: 1,
        id: 'sim_zap',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await allowed.next('dream.simulation', (b) => b.simulation_id === 'sim_zap');
      await settle();
      assert.deepEqual(anonymous.frames, []);
      assert.deepEqual(unlisted.frames, [], 'a key that completes CURVE but is not listed is refused by ZAP');
    } finally {
      for (const s of subs) s.close();
      await dw.destroy();
    }
  });
});

describe('the network view of events', () => {
  const insight = {
    insight_id: 'ins_1',
    cycle_id: 'dream_1',
    kind: 'association',
    user_id: 'alice',
    a: {
      id: 'm1',
      content: 'my bank account password is hunter2',
      session_id: 's1',
      time: '2024-01-01T00:00:00Z',
    },
    b: { id: 'm2', content: 'hunter2 again', session_id: 's2', time: '2024-04-01T00:00:00Z' },
    similarity: 0.83,
    days_apart: 91,
    why: 'Similar in meaning (cosine 0.830) though 91.0 days apart, in sessions s1 and s2, and in no common assembly',
  };
  const simulation = {
    simulation_id: 'sim_1',
    best_action: 'go_hiking',
    evaluator: {
      type: 'preferences',
      user_id: 'bob',
      weights: [
        {
          var: 'hiking_hours',
          weight: 1,
          matched: [{ object: 'hiking', strength: 1, memory_id: 'm3', statement: 'I love hiking' }],
        },
      ],
    },
  };

  test('dream.insight and dream.simulation lose memory text, keeping ids, scores, kinds and times', () => {
    const net = networkPayload('dream.insight', insight, false);
    assert.ok(!JSON.stringify(net).includes('hunter2'));
    assert.deepEqual(net, {
      ...insight,
      a: { id: 'm1', session_id: 's1', time: insight.a.time },
      b: { id: 'm2', session_id: 's2', time: insight.b.time },
    });
    const sim = networkPayload('dream.simulation', simulation, false);
    assert.ok(!JSON.stringify(sim).includes('I love hiking'));
    assert.deepEqual((sim.evaluator as typeof simulation.evaluator).weights, [
      { var: 'hiking_hours', weight: 1, matched: [{ memory_id: 'm3', strength: 1 }] },
    ]);
    assert.equal(insight.a.content, 'my bank account password is hunter2', 'the event itself is not changed');
  });

  test('DREAM_PUB_INCLUDE_TEXT=true sends the events whole', () => {
    assert.deepEqual(networkPayload('dream.insight', insight, true), insight);
    assert.deepEqual(networkPayload('dream.simulation', simulation, true), simulation);
  });
});
