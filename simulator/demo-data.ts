import type { Deployment } from './deployment.js';

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Ken',
  'Margaret',
  'Donald',
  'Frances',
  'Leslie',
];
const WORDS = [
  'ship',
  'merge',
  'review',
  'deploy',
  'rollback',
  'page',
  'fix',
  'test',
  'bench',
  'refactor',
];

/** Sizes of the demo dataset; `events` pads the `events` table for a snapshot worth watching. */
export interface DemoSize {
  readonly users?: number;
  readonly events?: number;
}

/**
 * Seeds a small, varied dataset: users, messages and orders in several transactions, with an int64
 * and a bytes field; plus `events` rows (1,000 per transaction) when asked for.
 */
export function seedDemoData(deployment: Deployment, size: DemoSize = {}): void {
  const users = size.users ?? 50;
  const userIds = deployment.transact((tx) =>
    Array.from({ length: users }, (_, i) =>
      tx.insert('users', {
        name: `${FIRST[i % FIRST.length]} ${i}`,
        email: `user${i}@example.com`,
        visits: BigInt(i) * 1_000_000_007n,
        avatar: new Uint8Array([i & 0xff, 0xca, 0xfe]),
      }),
    ),
  ).result;
  for (let batch = 0; batch < 4; batch++) {
    deployment.transact((tx) => {
      for (let i = 0; i < 25; i++) {
        const n = batch * 25 + i;
        tx.insert('messages', {
          author: userIds[n % userIds.length] as string,
          body: `${WORDS[n % WORDS.length]} #${n}`,
          score: n / 4,
        });
      }
    });
  }
  deployment.transact((tx) => {
    for (let i = 0; i < 10; i++)
      tx.insert('orders', { user: userIds[i] as string, total: 10.5 * i, status: 'open' });
  });
  const events = size.events ?? 0;
  for (let start = 0; start < events; start += 1_000) {
    deployment.transact((tx) => {
      for (let i = start; i < Math.min(events, start + 1_000); i++)
        tx.insert('events', { kind: WORDS[i % WORDS.length] as string, seq: i });
    });
  }
}
