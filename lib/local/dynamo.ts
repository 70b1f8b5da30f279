import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { closeDynaliteIterators } from './dynalite-iterators.ts';
import { listen, urlFor } from './listen.ts';

export interface LocalDynamo {
  url: string;
  port: number;
  /** Stops accepting requests, waits for pending writes and closes the LevelDB store. */
  stop(): Promise<void>;
}

/**
 * DynamoDB on the wire: dynalite with its LevelDB store under `<dataDir>/dynamodb`, so tables
 * and items survive restarts. Tables become ACTIVE immediately (no CREATING delay).
 */
export async function startDynamo(opts: {
  dataDir: string;
  port: number;
  host?: string;
}): Promise<LocalDynamo> {
  const host = opts.host ?? '127.0.0.1';
  const path = join(opts.dataDir, 'dynamodb');
  mkdirSync(path, { recursive: true });
  closeDynaliteIterators(); // dynalite 4 leaks one LevelDB iterator per Query/Scan otherwise
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const address = await listen(server, opts.port, host, {
    service: 'DynamoDB (dynalite)',
    envVar: 'DYNAMO_PORT',
  });
  let stopped: Promise<void> | undefined;
  return {
    url: urlFor(host, address.port),
    port: address.port,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Idle keep-alive sockets from the SDK would otherwise hold the close open.
        server.closeIdleConnections();
      });
      return stopped;
    },
  };
}
