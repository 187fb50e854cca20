#!/usr/bin/env node
// Runs the TypeScript simulator through tsx so it needs no build step.
import './quiet-node20-sdk-warning.js';
import { register } from 'tsx/esm/api';

register();
await import('../simulator/cli.ts');
