import { inject } from 'vitest';

// The SDK's standard variables point every client at the local stand-ins.
Object.assign(process.env, inject('localAws'));
