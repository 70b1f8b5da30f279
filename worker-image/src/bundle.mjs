// Bundles the worker into one ESM file for the container image: `node worker-image/src/bundle.mjs [outfile]`
// (default dist/worker.mjs). Uses esbuild's JS API, which works whether or not npm ran esbuild's
// install script (the image build installs with --ignore-scripts).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outfile = process.argv[2] ?? 'dist/worker.mjs';

await build({
  absWorkingDir: root,
  entryPoints: ['worker-image/src/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  legalComments: 'none',
  sourcemap: 'linked',
  logLevel: 'warning',
  // The AWS SDK and a few of its dependencies are CommonJS and call require() for built-ins.
  banner: {
    js: "import { createRequire as __workerCreateRequire } from 'node:module'; const require = __workerCreateRequire(import.meta.url);",
  },
});
