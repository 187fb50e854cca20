#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so it needs no build step.
import './quiet-node20-sdk-warning.js';
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
