/** Operator CLI entry (`npx bus-build …`; see lib/cli). */
import { existsSync } from 'node:fs';
import { main } from '../lib/cli/main.ts';

// Same configuration as `npm start`: a `.env` in the working directory, the real environment wins.
if (existsSync('.env')) process.loadEnvFile('.env');
process.exitCode = await main(process.argv.slice(2));
