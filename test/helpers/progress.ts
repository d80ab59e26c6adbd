// Progress states for tests: settled ranges with a made-up fingerprint per offset.
import type { OffsetRange } from "../../src/core/progress.ts";

/** A stand-in fingerprint for the record at `offset` (tests that do not build records). */
export const fakeFingerprint = (offset: number): number => Math.imul(offset + 1, 2654435761) >>> 0;

/** `fingerprints` for `settled`, each offset with fakeFingerprint (or `fingerprintOf`). */
export function fingerprintsOf(
  settled: readonly OffsetRange[],
  fingerprintOf: (offset: number) => number = fakeFingerprint,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [from, to] of settled) for (let o = from; o <= to; o++) out.set(o, fingerprintOf(o));
  return out;
}
