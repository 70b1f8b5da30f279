import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type {
  ArtifactStore,
  BucketRole,
  DownloadLimits,
  DownloadResult,
  ObjectInfo,
} from '../app/orchestrator/ports.ts';
import type { AppConfig } from './config.ts';

/** The largest JSON object `getJson` reads (assignments, worker results, verification reports). */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;

/** An object that should hold JSON does not. */
export class InvalidJsonObjectError extends Error {
  constructor(key: string) {
    super(`object ${key} is not valid JSON`);
    this.name = 'InvalidJsonObjectError';
  }
}

class DownloadLimitError extends Error {}

export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** A relative object path safe to place below a directory, or undefined. */
export function safeRelative(rel: string): string | undefined {
  if (!rel || rel.length > 1024 || rel.startsWith('/') || rel.includes('\\')) return undefined;
  if ([...rel].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  if (/^[A-Za-z]:/.test(rel)) return undefined;
  return rel;
}

export type BucketNames = Record<BucketRole, string>;

/** The bucket of each role, from the loaded configuration. */
export function bucketNames(c: AppConfig): BucketNames {
  return { staging: c.stagingBucket, evidence: c.evidenceBucket, artifacts: c.artifactsBucket };
}

/**
 * The S3 adapter for internal objects: staging (assignments, candidates), evidence (worker logs
 * and results, verification reports) and verified artifacts. Buckets are addressed by role.
 */
export class S3ArtifactStore implements ArtifactStore {
  constructor(
    private readonly s3: S3Client,
    private readonly buckets: BucketNames,
  ) {}

  bucketName(role: BucketRole): string {
    return this.buckets[role];
  }

  async getJson(bucket: BucketRole, key: string): Promise<unknown> {
    let text: string;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      if ((out.ContentLength ?? 0) > MAX_JSON_BYTES) throw new InvalidJsonObjectError(key);
      text = (await out.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new InvalidJsonObjectError(key);
    }
  }

  async putJson(bucket: BucketRole, key: string, value: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.buckets[bucket],
        Key: key,
        Body: `${JSON.stringify(value, null, 2)}\n`,
        ContentType: 'application/json; charset=utf-8',
      }),
    );
  }

  async head(bucket: BucketRole, key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      const info: ObjectInfo = { size: out.ContentLength ?? 0 };
      if (out.Metadata?.sha256) info.sha256 = out.Metadata.sha256;
      if (out.ContentType) info.contentType = out.ContentType;
      return info;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Every object below `prefix` (paginated), as key and size. */
  async list(bucket: BucketRole, prefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.buckets[bucket], Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async downloadPrefix(
    bucket: BucketRole,
    prefix: string,
    dir: string,
    limits: DownloadLimits = { maxFiles: 10_000, maxBytes: 1024 * 1024 * 1024 },
  ): Promise<DownloadResult> {
    const result: DownloadResult = { files: 0, bytes: 0, rejected: [], overLimit: false };
    await mkdir(dir, { recursive: true });
    const root = path.resolve(dir);
    const objects = await this.list(bucket, prefix);
    const wanted: { key: string; rel: string; size: number }[] = [];
    let listedBytes = 0;
    for (const o of objects) {
      const rel = o.key.slice(prefix.length);
      if (rel.endsWith('/') && o.size === 0) continue; // a "folder" marker
      const safe = safeRelative(rel);
      if (!safe) {
        result.rejected.push(o.key);
        continue;
      }
      listedBytes += o.size;
      wanted.push({ key: o.key, rel: safe, size: o.size });
    }
    if (wanted.length > limits.maxFiles || listedBytes > limits.maxBytes) {
      return { ...result, files: wanted.length, bytes: listedBytes, overLimit: true };
    }
    for (const o of wanted) {
      const dest = path.resolve(root, ...o.rel.split('/'));
      if (!dest.startsWith(`${root}${path.sep}`)) {
        result.rejected.push(o.key);
        continue;
      }
      try {
        await mkdir(path.dirname(dest), { recursive: true });
        const out = await this.s3.send(new GetObjectCommand({ Bucket: this.buckets[bucket], Key: o.key }));
        let written = 0;
        const already = result.bytes;
        await pipeline(
          out.Body as Readable,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              written += chunk.length;
              if (already + written > limits.maxBytes) throw new DownloadLimitError();
              yield chunk;
            }
          },
          createWriteStream(dest, { flags: 'wx', mode: 0o644 }),
        );
        result.bytes += written;
        result.files += 1;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
          result.rejected.push(o.key); // a key that collides with another key's folder
          continue;
        }
        if (err instanceof DownloadLimitError) return { ...result, overLimit: true };
        throw err;
      }
    }
    return result;
  }

  async putFile(
    bucket: BucketRole,
    key: string,
    file: string,
    meta: { contentType: string; sha256: string; size: number },
  ): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.buckets[bucket],
        Key: key,
        Body: createReadStream(file),
        ContentLength: meta.size,
        ContentType: meta.contentType,
        Metadata: { sha256: meta.sha256 },
        // S3 checks the bytes against it; given up front, the SDK sends a header instead of an
        // `aws-chunked` trailer (which s3rver would store verbatim).
        ChecksumSHA256: Buffer.from(meta.sha256, 'hex').toString('base64'),
      }),
    );
  }

  async getStream(
    bucket: BucketRole,
    key: string,
  ): Promise<{ body: Readable; info: ObjectInfo } | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.buckets[bucket], Key: key }));
      const info: ObjectInfo = { size: out.ContentLength ?? 0 };
      if (out.Metadata?.sha256) info.sha256 = out.Metadata.sha256;
      if (out.ContentType) info.contentType = out.ContentType;
      return { body: out.Body as Readable, info };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
