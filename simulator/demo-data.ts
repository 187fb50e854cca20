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

/** Seeds a small, varied dataset: three tables, several transactions, an int64 and a bytes field. */
export function seedDemoData(deployment: Deployment, users = 50): void {
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
}
