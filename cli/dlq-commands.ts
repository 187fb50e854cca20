import { createInterface as createPrompt } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseEnv } from '../shared/config/parse-env.js';
import { ENV } from '../shared/env.js';
import {
  type DeadLetterFilter,
  findDeadLetter,
  listDeadLetters,
  redriveDeadLetters,
} from '../shared/import/dead-letters.js';
import type { MessageAttributes } from '../shared/ports/message-queue.js';
import type { DeadLetter } from '../shared/ports/quarantine.js';
import { buildDeadLetterQueue } from '../shared/wiring/import.js';
import { EXIT, print, UsageError } from './output.js';

export const DLQ_HELP = `Usage: convex-bridge dlq <list|show|redrive|purge> [options]

  list [--json]                 every message in BRIDGE_DLQ_URL: id, reason code, table, age,
                                and the counts by reason
  show ID [--json]              one message (by its DLQ id or its id in the import queue): reason,
                                attributes, body
  redrive [--reason CODE] [--table T] [--dry-run]
                                move the messages that match back to BRIDGE_QUEUE_URL (all of
                                them without a filter), with their body, the producer's
                                attributes and FIFO group; --dry-run only says which
  purge [--yes]                 delete every message in the DLQ (asks unless --yes)

Reason codes are the importer's (docs/import.md), or MaxReceiveCount for a message the queue
moved itself after too many failed receives. Browsing receives the messages and makes them
visible again at once; while it runs, nothing else sees them. On a FIFO DLQ only the first
messages of each group are visible at a time.
Exit codes: 0 ok, 1 failure (some messages not moved, no such message), 2 usage or configuration.`;

const dlqSchema = z.object({
  [ENV.dlqUrl]: z.string({ message: 'is required (the dead-letter queue)' }).url(),
  [ENV.queueUrl]: z.string().url().optional(),
});

const queueName = (url: string) => url.slice(url.lastIndexOf('/') + 1);

/** 42s, 3m05s, 2h07m, 3d04h. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400)
    return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

/** Attribute values as text: strings as they are, binary as base64. */
function attributeText(attributes: MessageAttributes): Record<string, string> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, a]) => [
      name,
      a.stringValue ?? Buffer.from(a.binaryValue ?? new Uint8Array()).toString('base64'),
    ]),
  );
}

function asJson(letter: DeadLetter, now: number) {
  return {
    id: letter.id,
    code: letter.code,
    reason: letter.reason,
    ...(letter.table !== undefined ? { table: letter.table } : {}),
    ...(letter.sourceMessageId !== undefined ? { sourceMessageId: letter.sourceMessageId } : {}),
    ...(letter.groupId !== undefined ? { groupId: letter.groupId } : {}),
    sentAt: new Date(letter.sentAt).toISOString(),
    ageSeconds: Math.max(0, Math.floor((now - letter.sentAt) / 1000)),
    attributes: attributeText(letter.attributes),
    body: letter.body,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function byReasonLines(byReason: Readonly<Record<string, number>>): string {
  const rows = Object.entries(byReason).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return table(rows.map(([code, n]) => [`  ${code}`, String(n)]));
}

/** `dlq <list|show|redrive|purge>`: the dead-letter queue as a tool. */
export async function dlqCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      reason: { type: 'string' },
      table: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined) {
    print(DLQ_HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const expect = (n: number, what: string) => {
    if (rest.length !== n)
      throw new UsageError(`dlq ${sub} ${what}; run 'convex-bridge dlq --help'`);
  };
  if (!['list', 'show', 'redrive', 'purge'].includes(sub))
    throw new UsageError(`unknown dlq command '${sub}'; run 'convex-bridge dlq --help'`);
  const env = parseEnv(dlqSchema, process.env);
  const dlqUrl = env[ENV.dlqUrl];
  const queueUrl = env[ENV.queueUrl];
  const dlq = buildDeadLetterQueue(dlqUrl, queueUrl ?? '');
  const now = Date.now();
  switch (sub) {
    case 'list': {
      expect(0, 'takes no arguments');
      const listing = await listDeadLetters(dlq);
      const total = listing.depth ? listing.depth.visible + listing.depth.inFlight : undefined;
      if (values.json) {
        print(
          JSON.stringify({
            dlq: dlqUrl,
            count: listing.letters.length,
            ...(total !== undefined ? { approximateTotal: total } : {}),
            byReason: listing.byReason,
            messages: listing.letters.map((l) => asJson(l, now)),
          }),
        );
        return EXIT.ok;
      }
      const hidden =
        total !== undefined && total > listing.letters.length
          ? ` (the queue counts ${total}: the others are held by another reader, or behind the first messages of their FIFO group)`
          : '';
      print(`DLQ ${queueName(dlqUrl)}: ${listing.letters.length} message(s)${hidden}`);
      if (listing.letters.length === 0) return EXIT.ok;
      print(
        table([
          ['ID', 'REASON', 'TABLE', 'AGE', 'SOURCE MESSAGE ID'],
          ...listing.letters.map((l) => [
            l.id,
            l.code,
            l.table ?? '-',
            formatAge((now - l.sentAt) / 1000),
            l.sourceMessageId ?? '-',
          ]),
        ]),
      );
      print(`by reason:\n${byReasonLines(listing.byReason)}`);
      return EXIT.ok;
    }
    case 'show': {
      expect(1, 'needs one message ID');
      const id = rest[0] as string;
      const letter = await findDeadLetter(dlq, id);
      if (!letter) {
        process.stderr.write(
          `convex-bridge: no message ${id} in the DLQ ${queueName(dlqUrl)} (neither a DLQ id nor an import queue id)\n`,
        );
        return EXIT.failed;
      }
      if (values.json) {
        print(JSON.stringify(asJson(letter, now)));
        return EXIT.ok;
      }
      const attributes = Object.entries(letter.attributes).map(
        ([name, a]) => `${name}=${attributeText({ [name]: a })[name]} (${a.dataType})`,
      );
      print(
        table([
          ['id', letter.id],
          ['reason', `${letter.code}${letter.reason ? `: ${letter.reason}` : ''}`],
          ['table', letter.table ?? '-'],
          [
            'age',
            `${formatAge((now - letter.sentAt) / 1000)} (sent ${new Date(letter.sentAt).toISOString()})`,
          ],
          ['source message id', letter.sourceMessageId ?? '-'],
          ['group', letter.groupId ?? '-'],
          ['attributes', attributes.length > 0 ? attributes.join(', ') : '-'],
          ['body', letter.body],
        ]),
      );
      return EXIT.ok;
    }
    case 'redrive': {
      expect(0, 'takes no arguments (filter with --reason and --table)');
      if (queueUrl === undefined)
        throw new UsageError(`dlq redrive needs ${ENV.queueUrl}: the import queue to move them to`);
      const filter: DeadLetterFilter = {
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
        ...(values.table !== undefined ? { table: values.table } : {}),
      };
      const dryRun = values['dry-run'];
      const outcome = await redriveDeadLetters(dlq, filter, { dryRun });
      for (const l of outcome.matched) print(`  ${l.id}  ${l.code}  ${l.table ?? '-'}`);
      const reasons = Object.entries(outcome.byReason)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      const target = queueName(queueUrl);
      if (dryRun) {
        print(
          `would move ${outcome.matched.length} message(s) back to the queue ${target}${reasons ? ` (${reasons})` : ''}; nothing moved (--dry-run)`,
        );
        return EXIT.ok;
      }
      for (const f of outcome.failed) process.stderr.write(`not moved: ${f.id}: ${f.reason}\n`);
      print(
        `moved ${outcome.moved} message(s) back to the queue ${target}${reasons ? ` (${reasons})` : ''}`,
      );
      return outcome.failed.length > 0 ? EXIT.failed : EXIT.ok;
    }
    case 'purge': {
      expect(0, 'takes no arguments');
      if (!values.yes) {
        if (!process.stdin.isTTY)
          throw new UsageError(
            `dlq purge deletes every message in ${queueName(dlqUrl)} for good; pass --yes to confirm`,
          );
        const rl = createPrompt({ input: process.stdin, output: process.stdout });
        const answer = await rl.question(
          `Delete every message in the DLQ ${queueName(dlqUrl)}? Type "purge" to confirm: `,
        );
        rl.close();
        if (answer.trim() !== 'purge') {
          print('dlq purge cancelled');
          return EXIT.usage;
        }
      }
      const before = await dlq.depth().catch(() => undefined);
      await dlq.purge();
      print(
        `purged the DLQ ${queueName(dlqUrl)}${before ? ` (about ${before.visible + before.inFlight} message(s))` : ''}`,
      );
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown dlq command '${sub}'; run 'convex-bridge dlq --help'`);
  }
}
