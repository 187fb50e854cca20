import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Deployment } from '../simulator/deployment.js';

const STATUSES = ['open', 'paid', 'shipped', 'delivered'];
const WORDS = ['ship', 'merge', 'review', 'deploy', 'fix', 'test', 'bench', 'page'];

/** The table the demo's queue messages import into, keyed by email. */
export const DEMO_IMPORT_TABLES = { contacts: { primaryKey: [['email']] } } as const;

/**
 * Makes a few realistic changes per second in the simulator (inserts, patches, deletes, each its own
 * transaction) so the live view has something to show. Returns a function that stops it.
 */
export function startDemoWriter(
  deployment: Deployment,
  perSecond: number,
  random: () => number = Math.random,
): () => void {
  const pick = <T>(items: readonly T[]): T | undefined =>
    items[Math.floor(random() * items.length)];
  const users = deployment.documents('users').map((d) => d._id as string);
  const orders = deployment.documents('orders').map((d) => d._id as string);
  const ours: string[] = [];
  let n = 0;
  const tick = () => {
    n++;
    const roll = random();
    deployment.transact((tx) => {
      const user = pick(users);
      const order = pick(orders);
      if (roll < 0.15 && ours.length > 0) {
        tx.delete(ours.shift() as string);
      } else if (roll < 0.35 && user) {
        const current = tx.get(user);
        tx.patch(user, { visits: ((current?.visits as bigint | undefined) ?? 0n) + 1n });
      } else if (roll < 0.5 && order) {
        tx.patch(order, { status: pick(STATUSES) as string });
      } else {
        ours.push(
          tx.insert('messages', {
            author: user ?? 'nobody',
            body: `${pick(WORDS)} #demo-${n}`,
            score: Math.round(random() * 100) / 4,
          }),
        );
      }
    });
  };
  const timer = setInterval(tick, Math.max(10, Math.round(1000 / perSecond)));
  return () => clearInterval(timer);
}

/** Queues a contact upsert every `everyMs` so the importer has messages to import. */
export function startDemoSender(
  sqs: SQSClient,
  queueUrl: string,
  everyMs: number,
  onError: (error: unknown) => void,
): () => void {
  let n = 0;
  const timer = setInterval(() => {
    const i = n++ % 25;
    const body = JSON.stringify({
      table: 'contacts',
      op: 'upsert',
      data: { email: `contact${i}@example.com`, name: `Contact ${i}`, touches: n },
    });
    sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })).catch(onError);
  }, everyMs);
  return () => clearInterval(timer);
}
