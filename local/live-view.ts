import type { FlowStats } from './flow-stats.js';

/** Where things run, shown at the top of the view. */
export interface ViewHeader {
  readonly convex: string;
  readonly aws: string;
  readonly resources: string;
}

const BAR_WIDTH = 30;
const n = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number | undefined) => (value === undefined ? '–' : `${n(value)} ms`);
const clock = (at: number) => new Date(at).toISOString().slice(11, 23);

export function progressBar(fraction: number, width = BAR_WIDTH): string {
  const clamped = Math.min(1, Math.max(0, fraction));
  const full = Math.round(clamped * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`;
}

/** One line describing the snapshot copy: progress, tables, rate and ETA where known. */
export function snapshotLine(stats: FlowStats, now: number): string {
  const total = stats.estimate?.documents;
  const tables = stats.estimate?.tables.length;
  const done = stats.snapshotDoneAt !== undefined;
  const tablePart = tables !== undefined ? `${stats.tablesDone()}/${tables} tables` : '';
  if (done) {
    const seconds = ((stats.snapshotDoneAt ?? now) - (stats.snapshotStartedAt ?? now)) / 1000;
    return `${progressBar(1)} done: ${n(stats.snapshotDocs)} docs${tablePart ? ` · ${tablePart}` : ''} in ${seconds.toFixed(1)} s`;
  }
  if (stats.snapshotStartedAt === undefined) return 'waiting for the first page…';
  const fraction = total ? stats.snapshotDocs / total : 0;
  const eta = stats.snapshotEtaSeconds(now);
  return [
    `${progressBar(fraction)} ${total ? `${Math.floor(fraction * 100)}%`.padStart(4) : ''}`,
    `${n(stats.snapshotDocs)}${total !== undefined ? `/${n(total)}` : ''} docs`,
    tablePart,
    `${n(stats.snapshotRate(now))} docs/s`,
    eta !== undefined ? `ETA ${Math.ceil(eta)} s` : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

function changeLines(stats: FlowStats): string[] {
  const perTable = [...stats.changesByTable.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([table, c]) => `${table} +${n(c.upsert)}${c.delete > 0 ? ` −${n(c.delete)}` : ''}`);
  return [
    `${n(stats.changeSeq)} published · lag p50 ${ms(stats.lagPercentile(50))} · p95 ${ms(stats.lagPercentile(95))}`,
    perTable.length > 0 ? perTable.join('   ') : 'none yet',
  ];
}

/** The whole live view as lines; the terminal driver redraws it in place. */
export function renderDashboard(header: ViewHeader, stats: FlowStats, now: number): string[] {
  const label = (name: string) => name.padEnd(10);
  const changes = changeLines(stats);
  const i = stats.imports;
  const lines = [
    'convex-stream-bridge · local mode   (Ctrl-C stops everything)',
    `  ${label('Convex')}${header.convex}`,
    `  ${label('AWS')}${header.aws}`,
    `  ${label('Resources')}${header.resources}`,
    '',
    `${label('Snapshot')}${snapshotLine(stats, now)}`,
    `${label('Changes')}${changes[0]}`,
    `${label('')}${changes[1]}`,
    `${label('Import')}${n(i.imported)} imported · ${n(i.quarantined)} quarantined · ${n(i.retried)} retrying · ${n(i.requests)} requests`,
  ];
  if (stats.recent.length === 0) lines.push(`${label('Recent')}no changes yet`);
  stats.recent.forEach((c, index) => {
    lines.push(`${label(index === 0 ? 'Recent' : '')}${changeLine(c)}`);
  });
  for (const [part, why] of stats.waiting) lines.push(`${label('Waiting')}${part}: ${why}`);
  if (stats.lastError) lines.push('', `Last error: ${stats.lastError}`);
  return lines;
}

export function changeLine(c: FlowStats['recent'][number]): string {
  return `${clock(c.at)}  ${c.op.padEnd(6)}  ${c.table}  ${c.id}  lag ${ms(c.lagMs)}`;
}
