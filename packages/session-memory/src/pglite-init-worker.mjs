// Creates a new PGlite data directory (initdb) in a worker thread. initdb grows the WebAssembly memory to several
// hundred megabytes that a process never gives back; done here, it is freed when the worker exits, and the
// service then opens the ready directory at a fraction of the memory.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const db = await PGlite.create({ dataDir: workerData.dir, postgresqlconf: workerData.conf });
await db.close();
parentPort.postMessage('ready');
