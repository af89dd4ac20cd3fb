/**
 * The autotuner's table: for each convolution direction and bucketed shape, the candidate kernel
 * (kernels/conv/plan.ts) measured fastest on this adapter. Choices are only made by autotune()
 * (engine/autotune.ts), never in the middle of a run, and a persisted choice is reused as is, so
 * a same-seed run with the same table computes the same values. Disabled, it always takes the
 * planner's first candidate.
 */
import type { ConvDirection, ConvGeometry, ConvOperandType, ConvPlan } from '../kernels/conv/index.js';
import type { TuneStore, TuneTable } from './tune-store.js';

/** One convolution seen while discovering what to tune: enough to run its candidates again. */
export interface TuneRequest {
  key: string;
  direction: ConvDirection;
  layer: ConvGeometry;
  hasBias: boolean;
  operands: ConvOperandType;
}

/** Powers of two at or above n: shapes within one bucket share a choice. */
const bucket = (n: number) => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));

/**
 * The shape part of a tuned choice's key: the direction, the exact kernel window and channels,
 * and the batch and plane sizes bucketed (a short last batch shares the full batches' choice).
 * The engine appends the candidates' names (engine/ops/conv.ts).
 */
export function tuneKey(direction: ConvDirection, g: ConvGeometry): string {
  return `${direction} ${g.kh}x${g.kw}/s${g.strideH}x${g.strideW}/p${g.padH}x${g.padW} c${g.srcChannels}>${g.dstChannels} n${bucket(g.batch)} ${bucket(g.srcH)}x${bucket(g.srcW)}>${bucket(g.dstH)}x${bucket(g.dstW)}`;
}

export class ConvTuner {
  private readonly table: Map<string, string>;
  private discovered: Map<string, TuneRequest> | null = null;

  constructor(
    /** Choices are used (and autotune() measures); false: the planner's order, always. */
    readonly enabled: boolean,
    /** Which adapter the table is for (the store keeps one per adapter). */
    readonly adapterId: string,
    private readonly store: TuneStore | null,
    persisted: TuneTable = {},
  ) {
    this.table = new Map(enabled ? Object.entries(persisted) : []);
  }

  /** The plan to run: the tuned choice when it applies to this geometry, else the first. */
  choose(key: string, plans: readonly ConvPlan[]): ConvPlan {
    if (plans.length === 1 || !this.enabled) return plans[0];
    const chosen = this.table.get(key);
    return (chosen !== undefined && plans.find((p) => p.kernel === chosen)) || plans[0];
  }

  /** While discovering, remember a convolution with several candidates and no choice yet. */
  note(request: TuneRequest, candidates: number): void {
    if (this.discovered && candidates > 1 && !this.table.has(request.key) && !this.discovered.has(request.key)) this.discovered.set(request.key, request);
  }

  /** Runs `record` (synchronous GPU work: a model's forward and backward) and returns the convolutions it needs tuned. */
  discover(record: () => void): TuneRequest[] {
    if (!this.enabled) return [];
    this.discovered = new Map();
    try {
      record();
      return [...this.discovered.values()];
    } finally {
      this.discovered = null;
    }
  }

  set(key: string, kernel: string): void {
    this.table.set(key, kernel);
  }

  get choices(): ReadonlyMap<string, string> {
    return this.table;
  }

  /** Writes the table where the next process finds it (a no-op without a store). */
  async persist(): Promise<void> {
    await this.store?.save(this.adapterId, Object.fromEntries(this.table));
  }

  get storePath(): string | null {
    return this.store?.path ?? null;
  }
}
