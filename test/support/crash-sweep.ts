/**
 * The crash-point enumeration the power-cut sweeps share (after Pebble's
 * TestDBWALRotationCrash): for workload seeds base, base + seedStep, ..., cut the power before
 * mutating op k = 0, 1, 2, ... under each survival probability in turn, until `target` cases
 * have run. A workload is exhausted when a run ends without reaching op k.
 *
 * This module only exports functions: `node --test dist/test/` runs every .js file under a
 * directory named `test`, this one included, and importing it must do nothing.
 */

export interface CrashCase {
  workloadSeed: number;
  /** The mutating op before which the power goes. */
  k: number;
  /** Probability that each unsynced block / directory entry survives. */
  p: number;
  survivalSeed: number;
}

export interface SweepOptions {
  target: number;
  base: number;
  /** Distance between consecutive workload seeds. */
  seedStep: number;
  survival: readonly number[];
  /** The survival seed is workloadSeed * seedMultiplier + k * 3 + (index of p). */
  seedMultiplier: number;
  /** Run one case; resolve true if the power cut happened (op k was reached). */
  cut: (c: CrashCase) => Promise<boolean>;
}

export async function sweepCrashPoints(o: SweepOptions): Promise<{ cases: number; workloads: number }> {
  let cases = 0;
  let workloads = 0;
  for (let w = 0; cases < o.target; w++) {
    const workloadSeed = (o.base + w * o.seedStep) >>> 0;
    workloads++;
    for (let k = 0; cases < o.target; k++) {
      let exhausted = false;
      for (let s = 0; s < o.survival.length && cases < o.target; s++) {
        const survivalSeed = (workloadSeed * o.seedMultiplier + k * 3 + s) >>> 0;
        const cut = await o.cut({ workloadSeed, k, p: o.survival[s]!, survivalSeed });
        cases++;
        if (!cut) {
          exhausted = true; // the workload finished before op k
          break;
        }
      }
      if (exhausted) break;
    }
  }
  return { cases, workloads };
}
