import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readWholeStream } from '../../shared/adapters/kinesis-stream-reader.js';
import { createKinesisClient } from '../../shared/aws/clients.js';
import { watchOutput } from '../helpers/process-output.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
function portOpen(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(Number(port), hostname);
  });
}

describe('npm start in a pseudo-terminal', () => {
  it('shows the snapshot, then live changes and imports, and stops everything on Ctrl-C', {
    timeout: 120_000,
  }, async () => {
    // `script` gives the command a real pty, so the live (redrawing) view is what runs, and a
    // Ctrl-C byte typed into it reaches the foreground process group as SIGINT, as for a user.
    const env = { ...process.env };
    for (const key of Object.keys(env))
      if (key.startsWith('AWS_') || key.startsWith('CONVEX_') || key.startsWith('BRIDGE_'))
        delete env[key];
    const child = spawn(
      'script',
      ['-qfec', 'stty cols 140 rows 50 && npm start -- --docs 3000 --writes 10', '/dev/null'],
      { cwd: repo, env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const screen = watchOutput(child);
    try {
      const [, motoUrl, kinesisUrl] = await screen.waitFor(
        /started moto at (\S+) and kinesalite at (\S+)/,
        60_000,
      );
      const [, simUrl] = await screen.waitFor(/Convex simulator at (\S+)/, 30_000);
      // 3,160 seeded documents; on Data Sync (the default) the copy is not pinned to one moment,
      // so documents the demo writer inserts while it runs are copied too.
      const copied = await screen.waitFor(
        /Snapshot\s+\[█+\] done: ([\d,]+) docs · 4\/4 tables/,
        60_000,
      );
      const snapshotDocs = Number(copied[1]?.replaceAll(',', ''));
      expect(snapshotDocs).toBeGreaterThanOrEqual(3_160);
      expect(screen.raw()).toContain('\x1b[J'); // redrawn in place, not appended
      await screen.waitFor(/Recent\s+\d\d:\d\d:\d\d\.\d{3}\s+(upsert|delete)\s+\w+/, 30_000);
      await screen.waitFor(/Import\s+[1-9][\d,]* imported/, 30_000);

      // The events really are in the stream the view describes.
      const kinesis = createKinesisClient({
        env: {
          AWS_ENDPOINT_URL_KINESIS: kinesisUrl,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
        },
      });
      const events = (await readWholeStream(kinesis, 'convex-changes')).map(
        (r) => JSON.parse(Buffer.from(r.data).toString('utf8')) as { op: string; table: string },
      );
      kinesis.destroy();
      // The view counted exactly the snapshot events in the stream.
      expect(events.filter((e) => e.op === 'snapshot')).toHaveLength(snapshotDocs);
      expect(events.filter((e) => e.op !== 'snapshot').length).toBeGreaterThan(0);
      expect(events.some((e) => e.table === 'contacts' && e.op === 'upsert')).toBe(true);

      child.stdin?.write('\x03');
      await screen.waitFor(/stopped moto and kinesalite/, 30_000);
      await exited;
      expect(screen.text()).toMatch(/stopped the exporter and importer/);
      expect(screen.text()).toMatch(/stopped Convex simulator/);
      for (const url of [motoUrl, kinesisUrl, simUrl])
        expect(await portOpen(url as string)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
