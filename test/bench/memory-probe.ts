/**
 * Loaded into the local stack process by the memory bench (`--import`, with `--expose-gc`), never
 * by `npm start`. Over the IPC channel the bench asks for a measurement: the probe runs a full GC
 * (twice, so that objects freed by finalizers of the first pass go too), then answers with
 * `process.memoryUsage()`; with `snapshot` set it first writes a V8 heap snapshot to that path.
 */
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';

export interface ProbeRequest {
  type: 'memory-probe';
  id: number;
  snapshot?: string;
}

export interface ProbeReply {
  type: 'memory-probe';
  id: number;
  usage: NodeJS.MemoryUsage;
  /** V8's own malloc'd memory outside the JS heap (compiler zones and the like), bytes. */
  v8Malloced: number;
  gc: boolean;
}

const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (msg: ProbeRequest) => {
  if (msg?.type !== 'memory-probe') return;
  const run = async () => {
    if (gc) {
      // Let pending callbacks (closing sockets, settled promises) run before collecting.
      await new Promise((r) => setImmediate(r));
      gc();
      await new Promise((r) => setImmediate(r));
      gc();
    }
    if (msg.snapshot) writeHeapSnapshot(msg.snapshot);
    const reply: ProbeReply = {
      type: 'memory-probe',
      id: msg.id,
      usage: process.memoryUsage(),
      v8Malloced: getHeapStatistics().malloced_memory,
      gc: !!gc,
    };
    process.send?.(reply);
  };
  void run();
});
// The IPC channel must not keep the stack alive on its own (the stack exits via its signal handlers).
process.channel?.unref();
