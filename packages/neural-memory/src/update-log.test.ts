// The update log on its own: records round-trip, a torn or corrupt tail is cut off at every possible point, group
// commit shares syncs between concurrent appends, and a checkpoint empties the file.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecords, encodeRecord, RecordOp, UpdateLog } from './update-log.ts';
import { tempDir } from './service-test-support.ts';

const payload = (i: number, n = 8) => new Uint8Array(new Float32Array(n).map((_, j) => i + j / 10).buffer);

describe('update log', () => {
  const dir = tempDir('synthians-nm-log-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('records round-trip in order with their sequence numbers, time and payload', async () => {
    const path = join(dir, 'rt.wal');
    const { log } = UpdateLog.open(path, 0);
    for (let i = 1; i <= 5; i++) assert.equal(log.append(RecordOp.update, payload(i), 1000 + i), i);
    await log.durable(5);
    await log.close();
    const { records, validBytes } = decodeRecords(readFileSync(path));
    assert.equal(validBytes, statSync(path).size);
    assert.deepEqual(
      records.map((r) => [r.seq, r.timeMs, r.op]),
      [1, 2, 3, 4, 5].map((i) => [i, 1000 + i, RecordOp.update]),
    );
    assert.deepEqual([...records[2]!.payload], [...payload(3)]);
    const reopened = UpdateLog.open(path, 2);
    assert.equal(reopened.log.lastSeq, 5, 'numbering continues after the last record');
    assert.equal(reopened.log.count, 3, 'records after the snapshot (seq 2) count');
    await reopened.log.close();
  });

  test('a torn last record is dropped at every cut point, and cut off the file', () => {
    const records = [1, 2, 3].map((i) => encodeRecord(i, i, RecordOp.update, payload(i)));
    const whole = Buffer.concat(records);
    const two = records[0]!.length + records[1]!.length;
    for (let cut = two; cut < whole.length; cut++) {
      const path = join(dir, `torn-${cut}.wal`);
      writeFileSync(path, whole.subarray(0, cut));
      const { log, recovered } = UpdateLog.open(path, 0);
      assert.equal(recovered.records.length, 2, `cut at ${cut}: the two whole records survive`);
      assert.equal(recovered.droppedBytes, cut - two);
      assert.equal(log.lastSeq, 2);
      assert.equal(statSync(path).size, two, 'the torn bytes were cut off');
      log.closeIfIdle();
    }
  });

  test('a record whose checksum does not match ends the log', () => {
    const records = [1, 2, 3].map((i) => encodeRecord(i, i, RecordOp.update, payload(i)));
    const bytes = Buffer.concat(records);
    const at = records[0]!.length + records[1]!.length + 40; // a payload byte of the last record
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x10, at);
    const path = join(dir, 'crc.wal');
    writeFileSync(path, bytes);
    const { log, recovered } = UpdateLog.open(path, 0);
    assert.deepEqual(
      recovered.records.map((r) => r.seq),
      [1, 2],
    );
    assert.equal(log.lastSeq, 2);
    log.closeIfIdle();
    const garbage = join(dir, 'garbage.wal');
    writeFileSync(
      garbage,
      Buffer.concat([records[0]!, Buffer.from('not a record, but long enough to look')]),
    );
    assert.equal(UpdateLog.open(garbage, 0).recovered.records.length, 1);
  });

  test('group commit: concurrent appends share syncs; all are durable', async () => {
    const path = join(dir, 'group.wal');
    const { log } = UpdateLog.open(path, 0);
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const seq = log.append(RecordOp.update, payload(i, 768));
      waits.push(log.durable(seq) ?? Promise.resolve());
      if (i % 20 === 19) await new Promise((r) => setImmediate(r)); // let some syncs start meanwhile
    }
    await Promise.all(waits);
    assert.ok(log.syncs >= 1 && log.syncs < 200, `${log.syncs} syncs for 200 appends`);
    assert.equal(log.durable(200), undefined, 'already durable: no promise');
    await log.close();
    assert.equal(decodeRecords(readFileSync(path)).records.length, 200);
  });

  test('checkpoint makes pending records durable and empties the file; numbering continues', async () => {
    const path = join(dir, 'cp.wal');
    const { log } = UpdateLog.open(path, 0);
    for (let i = 0; i < 10; i++) log.append(RecordOp.update, payload(i));
    await log.durable(10);
    log.append(RecordOp.reset, new Uint8Array(0));
    log.checkpoint(11);
    assert.equal(log.durable(11), undefined, 'covered by the snapshot');
    assert.equal(log.count, 0);
    assert.equal(log.append(RecordOp.update, payload(1)), 12);
    await log.durable(12);
    await log.close();
    const { records } = decodeRecords(readFileSync(path));
    assert.deepEqual(
      records.map((r) => r.seq),
      [12],
      'only the record after the checkpoint is in the file',
    );
    appendFileSync(path, Buffer.from([1, 2, 3]));
    const again = UpdateLog.open(path, 11);
    assert.equal(again.recovered.droppedBytes, 3);
    assert.equal(again.log.count, 1);
    await again.log.close();
  });
});
