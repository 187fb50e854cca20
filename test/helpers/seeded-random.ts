/**
 * A small seeded PRNG (mulberry32) for tests whose schedule is random but must be reproducible:
 * the same seed gives the same sequence of numbers in [0, 1) on every run and platform.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The seed named by the environment variable `name` (an unsigned 32-bit integer, decimal or 0x…),
 * else `fallback`. A set but unusable value is an error rather than a silently different run.
 */
export function seedFromEnv(name: string, fallback: number): number {
  const text = process.env[name]?.trim();
  if (text === undefined || text === '') return fallback >>> 0;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
    throw new Error(`${name}=${text} is not an unsigned 32-bit integer seed`);
  return value;
}

/** An independent stream for another part of the same schedule, derived from one seed. */
export function deriveSeed(seed: number, stream: number): number {
  return (Math.imul(seed ^ 0x9e37_79b9, 0x85eb_ca6b) + Math.imul(stream + 1, 0xc2b2_ae35)) >>> 0;
}
