import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import S3rver from 's3rver';
import { PortInUseError, urlFor } from './listen.ts';

export interface LocalS3 {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * S3 on the wire: s3rver storing objects under `<dataDir>/s3`. It accepts the dummy key pair
 * `S3RVER`/`S3RVER` and does NOT verify SigV4 signatures, so nothing local may rely on S3 to
 * refuse a forged or expired presigned link.
 */
export async function startS3(opts: { dataDir: string; port: number; host?: string }): Promise<LocalS3> {
  const host = opts.host ?? '127.0.0.1';
  const directory = join(opts.dataDir, 's3');
  mkdirSync(directory, { recursive: true });
  // s3rver's own listen error is a bare EADDRINUSE; probe first for a clear message.
  if (opts.port !== 0) await assertPortFree(opts.port, host);
  const server = new S3rver({ address: host, port: opts.port, silent: true, directory, vhostBuckets: false });
  let address: Awaited<ReturnType<S3rver['run']>>;
  try {
    address = await server.run();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new PortInUseError(opts.port, 'S3 (s3rver)', 'S3_PORT');
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    url: urlFor(host, address.port),
    port: address.port,
    stop() {
      stopped ??= server.close();
      return stopped;
    },
  };
}

function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, 'S3 (s3rver)', 'S3_PORT') : err),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
