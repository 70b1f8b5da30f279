import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

/**
 * The portal is static files behind a strict CSP: its JavaScript stays small (< 120 KB gzipped
 * in total) and its pages carry no inline scripts, inline styles or third-party resources.
 */
const PORTAL = fileURLToPath(new URL('../../portal/', import.meta.url));
const JS_BUDGET_BYTES = 120 * 1024;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('portal', () => {
  const all = files(PORTAL);
  const js = all.filter((f) => /\.m?js$/.test(f));
  const html = all.filter((f) => f.endsWith('.html'));

  it('has the chat and the entry page', () => {
    const rel = all.map((f) => relative(PORTAL, f).split('\\').join('/'));
    expect(rel).toEqual(expect.arrayContaining(['index.html', 'app.js', 'style.css', 'offer/index.html']));
  });

  it('ships less than 120 KB of gzipped JavaScript in total', () => {
    expect(js.length).toBeGreaterThan(0);
    const total = js.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
    expect(total).toBeLessThan(JS_BUDGET_BYTES);
  });

  it.each(html.map((f) => [relative(PORTAL, f), f]))('%s works under a strict CSP', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    // No inline script bodies, no event-handler attributes, no style attributes or blocks.
    for (const m of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      expect(m[1]).toMatch(/\bsrc=/);
      expect(m[2]!.trim()).toBe('');
    }
    expect(text).not.toMatch(/\son[a-z]+\s*=/i);
    expect(text).not.toMatch(/\sstyle\s*=/i);
    expect(text).not.toMatch(/<style\b/i);
    expect(text).not.toMatch(/javascript:/i);
    // Same-origin resources only.
    for (const m of text.matchAll(/\s(?:src|href)="([^"]+)"/gi)) expect(m[1]).not.toMatch(/^(https?:)?\/\//);
  });

  it('builds the DOM without innerHTML or eval', () => {
    for (const f of js) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toMatch(
        /\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(/,
      );
    }
  });
});
