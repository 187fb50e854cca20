import type { FlowStats } from './flow-stats.js';
import { changeLine, renderDashboard, snapshotLine, type ViewHeader } from './live-view.js';

export interface Screen {
  /** Draws the current state now (the last frame before stopping). */
  flush(): void;
  stop(): void;
}

type Out = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };

/**
 * On a terminal, redraws the dashboard in place a few times a second. Elsewhere (pipes, CI logs)
 * appends plain lines instead: snapshot progress each second, each change, each import batch.
 */
export function startScreen(out: Out, header: ViewHeader, stats: FlowStats): Screen {
  return out.isTTY ? liveScreen(out, header, stats) : plainScreen(out, stats);
}

function liveScreen(out: Out, header: ViewHeader, stats: FlowStats): Screen {
  let drawn = 0;
  const draw = () => {
    const width = Math.max(40, (out.columns || 100) - 1);
    // Cut lines to the width: a wrapped line would throw off the cursor-up count.
    const lines = renderDashboard(header, stats, Date.now()).map((l) => l.slice(0, width));
    const up = drawn > 0 ? `\x1b[${drawn}F` : '';
    out.write(`${up}\x1b[J${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  out.write('\x1b[?25l');
  const timer = setInterval(draw, 250);
  return {
    flush: draw,
    stop() {
      clearInterval(timer);
      draw();
      out.write('\x1b[?25h');
    },
  };
}

function plainScreen(out: Out, stats: FlowStats): Screen {
  const line = (text: string) => out.write(`${new Date().toISOString().slice(11, 19)}  ${text}\n`);
  let printedSeq = 0;
  let printedImports = 0;
  let printedNotices = 0;
  let printedError: string | undefined;
  let snapshotReported = false;
  const draw = () => {
    const now = Date.now();
    if (!snapshotReported && stats.snapshotStartedAt !== undefined) {
      line(`snapshot  ${snapshotLine(stats, now)}`);
      snapshotReported = stats.snapshotDoneAt !== undefined;
    }
    for (const n of stats.notices.filter((x) => x.seq > printedNotices)) line(n.text);
    printedNotices = stats.noticeSeq;
    if (stats.lastError !== undefined && stats.lastError !== printedError) {
      line(`error     ${stats.lastError}`);
      printedError = stats.lastError;
    }
    const fresh = stats.recent.filter((c) => c.seq > printedSeq);
    const skipped = stats.changeSeq - printedSeq - fresh.length;
    if (skipped > 0) line(`change    … ${skipped} more changes`);
    for (const c of fresh) line(`change    ${changeLine(c)}`);
    printedSeq = stats.changeSeq;
    if (stats.imports.imported + stats.imports.quarantined > printedImports) {
      const i = stats.imports;
      line(
        `import    ${i.imported} imported, ${i.quarantined} quarantined, ${i.retried} retrying (${i.requests} requests)`,
      );
      printedImports = i.imported + i.quarantined;
    }
  };
  const timer = setInterval(draw, 1000);
  return {
    flush: draw,
    stop() {
      clearInterval(timer);
      draw();
    },
  };
}
