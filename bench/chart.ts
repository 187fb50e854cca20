import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import * as PImage from 'pureimage';
import type { BenchResults } from './harness.js';

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly kind: 'ceiling' | 'baseline' | 'ours';
}

interface Panel {
  readonly title: string;
  readonly bars: readonly Bar[];
}

const COLORS = { ceiling: '#9aa5b1', baseline: '#e8953a', ours: '#2563eb' } as const;
const WIDTH = 1100;
const LABEL_WIDTH = 300;
const BAR_HEIGHT = 26;
const PANEL_GAP = 24;
const FONT = 'BenchSans';

function panels(r: BenchResults): Panel[] {
  const exportPanels = r.exportThroughput.map((t) => ({
    title: `Export, ${t.kind} of ${t.ours.events.toLocaleString('en-US')} ${t.kind === 'snapshot' ? 'documents' : 'changes'} (events/s)`,
    bars: [
      { label: 'fetch-only ceiling', value: t.fetchOnly.eventsPerSecond, kind: 'ceiling' as const },
      {
        label: 'publish-only ceiling',
        value: t.publishOnly.eventsPerSecond,
        kind: 'ceiling' as const,
      },
      {
        label: 'sequential baseline',
        value: t.sequential.eventsPerSecond,
        kind: 'baseline' as const,
      },
      { label: 'ours', value: t.ours.eventsPerSecond, kind: 'ours' as const },
    ],
  }));
  const i = r.importThroughput;
  return [
    ...exportPanels,
    {
      title: `Import, ${i.ceiling.messages.toLocaleString('en-US')} queued messages of 1 KiB (messages/s)`,
      bars: [
        {
          label: 'direct to Convex (ceiling)',
          value: i.ceiling.messagesPerSecond,
          kind: 'ceiling',
        },
        {
          label: 'one handler, back to back',
          value: i.sequential.messagesPerSecond,
          kind: 'baseline',
        },
        ...i.esm.map((e) => ({
          label: `${e.config.batchSize} / ${e.config.batchingWindowMs / 1000} s / ${e.config.maxConcurrency}${e.config.fifo ? ' FIFO' : ''}`,
          value: e.throughput.messagesPerSecond,
          kind: 'ours' as const,
        })),
      ],
    },
  ];
}

function fontPath(): string {
  // The font ships as an npm package, so the chart renders the same on a machine without fonts.
  const require = createRequire(import.meta.url);
  return require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
}

/** A horizontal bar chart of the throughput results, as PNG bytes. */
export async function throughputChart(r: BenchResults): Promise<Buffer> {
  PImage.registerFont(fontPath(), FONT).loadSync();
  const all = panels(r);
  const height =
    70 + all.reduce((h, p) => h + 30 + p.bars.length * (BAR_HEIGHT + 6) + PANEL_GAP, 0);
  const image = PImage.make(WIDTH, height);
  const ctx = image.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, WIDTH, height);
  ctx.fillStyle = '#111827';
  ctx.font = `18pt ${FONT}`;
  ctx.fillText('convex-stream-bridge benchmarks', 20, 32);
  ctx.font = `11pt ${FONT}`;
  ctx.fillStyle = '#4b5563';
  ctx.fillText(
    `${r.date.slice(0, 10)} · ${r.machine.cpus} × ${r.machine.cpuModel} · Node ${r.machine.node} · Convex latency ${r.options.latencyMs} ms (simulated)`,
    20,
    54,
  );
  let y = 80;
  for (const panel of all) {
    ctx.fillStyle = '#111827';
    ctx.font = `13pt ${FONT}`;
    ctx.fillText(panel.title, 20, y + 16);
    y += 30;
    const max = Math.max(...panel.bars.map((b) => b.value));
    const scale = (WIDTH - LABEL_WIDTH - 140) / max;
    for (const bar of panel.bars) {
      ctx.fillStyle = '#374151';
      ctx.font = `11pt ${FONT}`;
      ctx.fillText(bar.label, 30, y + 18);
      ctx.fillStyle = COLORS[bar.kind];
      ctx.fillRect(LABEL_WIDTH, y, Math.max(2, Math.round(bar.value * scale)), BAR_HEIGHT);
      ctx.fillStyle = '#111827';
      ctx.fillText(
        Math.round(bar.value).toLocaleString('en-US'),
        LABEL_WIDTH + Math.round(bar.value * scale) + 8,
        y + 18,
      );
      y += BAR_HEIGHT + 6;
    }
    y += PANEL_GAP;
  }
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => chunks.push(c));
  await PImage.encodePNGToStream(image, sink);
  return Buffer.concat(chunks);
}
