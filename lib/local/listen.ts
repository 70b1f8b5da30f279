import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A port the local stack needs is taken; the message names the port and the variable to change. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly service: string,
    readonly envVar: string,
  ) {
    super(
      `Port ${port} (${service}) is already in use. Stop whatever is listening there, ` +
        `or choose another port with ${envVar}=<port> (e.g. ${envVar}=${port + 10} npm start).`,
    );
    this.name = 'PortInUseError';
  }
}

/** Starts `server` listening; rejects with PortInUseError on EADDRINUSE. Port 0 picks a free port. */
export function listen(
  server: Server,
  port: number,
  host: string,
  what: { service: string; envVar: string },
): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(port, what.service, what.envVar));
      else if (err.code === 'EACCES')
        reject(new Error(`Not allowed to listen on ${host}:${port} (${what.service}); set ${what.envVar}.`));
      else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** `http://host:port` for a listening address (IPv6 hosts bracketed). */
export function urlFor(host: string, port: number): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
