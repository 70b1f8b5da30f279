import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small local server speaking the slice of Stripe's HTTP API this project uses, so the REAL
 * `stripe` library can be pointed at it (`STRIPE_API_BASE`): form-encoded bodies (bracket
 * notation), Bearer auth, `Idempotency-Key` honoured (same key → the stored response replayed),
 * Stripe-shaped errors, and per-route call counts for exactly-once assertions.
 *
 *   POST /v1/checkout/sessions            GET /v1/checkout/sessions/:id
 *   POST /v1/payment_intents/:id/capture  POST /v1/payment_intents/:id/cancel
 *   GET  /v1/payment_intents/:id
 *
 * Test helpers `completeSession` / `expireSession` move a session on the way a customer or
 * Stripe would, and return the session object for building webhook events.
 */

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed form body. */
  body: Record<string, unknown>;
  idempotencyKey?: string;
  replayed: boolean;
}

type Json = Record<string, unknown>;

/** `a[b][0][c]=v` form fields → nested objects / arrays, as Stripe reads them. */
export function parseStripeForm(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const parts = key.split(/[[\]]+/).filter((p) => p !== '');
    let node: Record<string, unknown> | unknown[] = out;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const nextIsIndex = /^\d+$/.test(parts[i + 1] ?? '');
      const container = node as Record<string, unknown>;
      if (last) container[part] = value;
      else {
        container[part] ??= nextIsIndex ? [] : {};
        node = container[part] as Record<string, unknown>;
      }
    });
  }
  return out;
}

export class LocalStripeServer {
  readonly requests: ReceivedRequest[] = [];
  readonly sessions = new Map<string, Json>();
  readonly paymentIntents = new Map<string, Json>();
  private readonly idempotent = new Map<string, { status: number; body: Json }>();
  private seq = 0;
  private server = createServer((req, res) => this.handle(req, res));
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Requests to `METHOD /path` (path params as written, e.g. `/v1/payment_intents/pi_1/capture`). */
  calls(method: string, pathPattern: string | RegExp): ReceivedRequest[] {
    return this.requests.filter(
      (r) =>
        r.method === method &&
        (typeof pathPattern === 'string' ? r.path === pathPattern : pathPattern.test(r.path)),
    );
  }

  /** The customer paid (card authorized, manual capture): session complete, intent requires_capture. */
  completeSession(id: string): Json {
    const s = this.mustSession(id);
    const pi = this.newPaymentIntent(s);
    Object.assign(s, { status: 'complete', payment_status: 'unpaid', payment_intent: pi.id });
    return structuredClone(s);
  }

  expireSession(id: string): Json {
    const s = this.mustSession(id);
    Object.assign(s, { status: 'expired', url: null });
    return structuredClone(s);
  }

  private id(prefix: string): string {
    this.seq += 1;
    return `${prefix}_test_${String(this.seq).padStart(6, '0')}`;
  }

  private mustSession(id: string): Json {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`no session ${id}`);
    return s;
  }

  private newPaymentIntent(session: Json): Json {
    const pi: Json = {
      id: this.id('pi'),
      object: 'payment_intent',
      amount: session.amount_total,
      currency: session.currency,
      capture_method: (session as { _capture_method?: string })._capture_method ?? 'automatic',
      status: 'requires_capture',
      metadata: (session as { _pi_metadata?: Json })._pi_metadata ?? {},
    };
    this.paymentIntents.set(pi.id as string, pi);
    return pi;
  }

  /** While true, every request is cut off unanswered (a Stripe outage as the client sees one). */
  outage = false;

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.outage) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    const body = parseStripeForm(raw);
    const record: ReceivedRequest = {
      method,
      path: url.pathname,
      headers: req.headers,
      body,
      idempotencyKey,
      replayed: false,
    };
    this.requests.push(record);

    const send = (status: number, payload: Json, replayed = false) => {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'request-id': this.id('req'),
      };
      if (replayed) headers['idempotent-replayed'] = 'true';
      res.writeHead(status, headers);
      res.end(JSON.stringify(payload));
    };
    if (!/^Bearer sk_(test|live)_/.test(String(req.headers.authorization ?? ''))) {
      send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
      return;
    }
    const storeKey = idempotencyKey && method === 'POST' ? `${url.pathname}|${idempotencyKey}` : undefined;
    if (storeKey) {
      const prior = this.idempotent.get(storeKey);
      if (prior) {
        record.replayed = true;
        send(prior.status, prior.body, true);
        return;
      }
    }
    const [status, payload] = this.route(method, url.pathname, body);
    if (storeKey && status < 500) this.idempotent.set(storeKey, { status, body: payload });
    send(status, payload);
  }

  private route(method: string, path: string, body: Json): [number, Json] {
    const notFound = (what: string): [number, Json] => [
      404,
      { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${what}` } },
    ];
    if (method === 'POST' && path === '/v1/checkout/sessions') return [200, this.createSession(body)];
    let m = path.match(/^\/v1\/checkout\/sessions\/([^/]+)$/);
    if (method === 'GET' && m) {
      const s = this.sessions.get(m[1] as string);
      return s ? [200, publicSession(s)] : notFound('checkout.session');
    }
    m = path.match(/^\/v1\/payment_intents\/([^/]+)(?:\/(capture|cancel))?$/);
    if (m) {
      const pi = this.paymentIntents.get(m[1] as string);
      if (!pi) return notFound('payment_intent');
      if (method === 'GET' && !m[2]) return [200, pi];
      if (method === 'POST' && m[2]) {
        if (pi.status !== 'requires_capture') {
          return [
            400,
            {
              error: {
                type: 'invalid_request_error',
                code: 'payment_intent_unexpected_state',
                message: `This PaymentIntent could not be ${m[2] === 'capture' ? 'captured' : 'canceled'} because it has a status of ${pi.status}.`,
              },
            },
          ];
        }
        pi.status = m[2] === 'capture' ? 'succeeded' : 'canceled';
        return [200, pi];
      }
    }
    return [
      404,
      { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } },
    ];
  }

  private createSession(body: Json): Json {
    const items = (body.line_items ?? []) as { quantity?: string; price_data?: Json }[];
    const amount = items.reduce(
      (sum, i) => sum + Number(i.price_data?.unit_amount ?? 0) * Number(i.quantity ?? 1),
      0,
    );
    const id = this.id('cs');
    const pid = (body.payment_intent_data ?? {}) as Json;
    const session: Json = {
      id,
      object: 'checkout.session',
      mode: body.mode,
      status: 'open',
      payment_status: 'unpaid',
      amount_total: amount,
      currency: items[0]?.price_data?.currency ?? null,
      client_reference_id: body.client_reference_id ?? null,
      customer_email: body.customer_email ?? null,
      metadata: body.metadata ?? {},
      payment_intent: null,
      success_url: body.success_url,
      cancel_url: body.cancel_url,
      url: `${this.url}/pay/${id}`,
      _capture_method: pid.capture_method,
      _pi_metadata: pid.metadata,
    };
    this.sessions.set(id, session);
    return publicSession(session);
  }
}

function publicSession(s: Json): Json {
  const { _capture_method, _pi_metadata, ...rest } = s;
  return structuredClone(rest);
}

export async function startStripeServer(): Promise<LocalStripeServer> {
  return new LocalStripeServer().start();
}
