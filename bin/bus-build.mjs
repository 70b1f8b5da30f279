#!/usr/bin/env node
// Launcher for the operator CLI: registers tsx's ESM loader on the running Node and imports the
// TypeScript entry, so `npx bus-build …` works without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./bus-build.ts');
