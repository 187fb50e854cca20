import { describe, expect, it } from 'vitest';
import { finalState, MemoryConsumerStore } from '../../shared/consumer/consumer-store.js';
import { StreamConsumer } from '../../shared/consumer/stream-consumer.js';
import { Rng } from '../fakes/prng.js';
import { deriveSeed, seedFromEnv } from '../helpers/seeded-random.js';
import { consumeStream, diffStates, FlawedConsumer } from './consume.js';
import { generateHistory, ModelStream } from './stream-model.js';

// CONSUMER_SEED=<n> replays another family of histories; the default keeps CI deterministic.
const BASE_SEED = seedFromEnv('CONSUMER_SEED', 20_261_128);
const HISTORIES = 40;
const INTERLEAVINGS = 12;
const STEPS = 120;
process.stdout.write(
  `consumer-property: CONSUMER_SEED=${BASE_SEED} (${HISTORIES} histories × ${INTERLEAVINGS} interleavings)\n`,
);
const seeds = Array.from({ length: HISTORIES }, (_, i) => deriveSeed(BASE_SEED, i));

function history(seed: number) {
  const rng = new Rng(seed);
  const stream = new ModelStream(rng.int(1, 4), rng);
  const { truth, stats } = generateHistory(rng, stream, STEPS);
  return { truth, stats, shards: stream.infos(), records: stream.records() };
}

describe('property: the reference consumer ends equal to Convex in every valid order', () => {
  it.for(seeds)('history seed %i', async (seed) => {
    const { truth, shards, records } = history(seed);
    for (let i = 0; i < INTERLEAVINGS; i++) {
      const store = new MemoryConsumerStore();
      const consumer = new StreamConsumer(store);
      // Interleaving 0 reads shard after shard (the default order); the others pick at random.
      const rng = i === 0 ? undefined : new Rng(deriveSeed(seed, i));
      await consumeStream(shards, records, consumer, rng);
      const diff = diffStates(await finalState(store), truth.docs);
      expect({ seed, interleaving: i, diff }).toEqual({ seed, interleaving: i, diff: [] });
      for (const [table, schema] of truth.schemas) {
        const [component = '', name = ''] = table.split('/');
        expect((await store.getSchema(component, name))?.schema).toEqual(schema);
      }
    }
  });

  it('the histories exercise every path the rules exist for', () => {
    // Guards the property test itself: were a generator change to stop producing resyncs or
    // re-read truncates, the property above would pass without testing them.
    const totals: Record<string, number> = {};
    let records = 0;
    let resharded = 0;
    for (const seed of seeds) {
      const { stats, shards } = history(seed);
      for (const [step, n] of Object.entries(stats.steps)) totals[step] = (totals[step] ?? 0) + n;
      records += stats.records;
      if (shards.some((s) => s.parentShardId !== undefined)) resharded++;
    }
    for (const step of [
      'transaction',
      'clear-tables',
      'data-sync-truncate',
      'data-sync-reread',
      'schema',
      'resync',
      'crash',
      'split',
      'merge',
    ])
      expect({ step, atLeast10: (totals[step] ?? 0) >= 10 }).toEqual({ step, atLeast10: true });
    expect(resharded).toBeGreaterThan(HISTORIES / 2);
    expect(records).toBeGreaterThan(HISTORIES * 100);
  });
});

describe('the same histories catch a consumer that leaves a rule out', () => {
  // If these passed, the property above could not fail for these mistakes either.
  it.for([
    ['eventId', 'deduplicates on eventId alone (the rule before generations)'],
    ['no-tombstones', 'forgets what a truncate removed, dropping the replay after it'],
  ] as const)('a consumer that %s: %s ends different from Convex', async ([flaw]) => {
    let wrong = 0;
    for (const seed of seeds) {
      const { truth, shards, records } = history(seed);
      const consumer = new FlawedConsumer(flaw);
      await consumeStream(shards, records, consumer);
      if (diffStates(consumer.finalState(), truth.docs).length > 0) wrong++;
    }
    expect(wrong).toBeGreaterThan(0);
  });
});
