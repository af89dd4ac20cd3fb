/**
 * The autotuner's table: for each convolution direction and bucketed shape, the candidate kernel
 * (kernels/conv/plan.ts) measured fastest on this adapter. Choices are only made by autotune()
 * (engine/autotune.ts), never in the middle of a run, and a persisted choice is reused as is, so
 * a same-seed run with the same table computes the same values. Disabled, it always takes the
 * planner's first candidate.
 *
 * A key names the direction, the exact window and channels, the bucketed batch and planes and
 * the candidates: a choice made among other candidates is not reused. The table as a whole is
 * kept with a hash of the convolution kernels' WGSL (kernelVersion), so after any kernel changes
 * everything is tuned again. A convolution with no choice of its own takes the choice of the
 * same convolution at the nearest tuned batch bucket (an epoch's short last batch shares the full
 * batches' kernels rather than costing a tuning of its own).
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

/** Batch buckets a choice may be borrowed from, nearest first: larger batches, then smaller. */
const BORROWED_BUCKETS = [2, 4, 8, 16, 32, 64, 128, 256, 1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64];

/**
 * The shape part of a tuned choice's key: the direction, the exact kernel window and channels,
 * and the batch and plane sizes bucketed.
 */
export function tuneKey(direction: ConvDirection, g: ConvGeometry, batchBucket = bucket(g.batch)): string {
  return `${direction} ${g.kh}x${g.kw}/s${g.strideH}x${g.strideW}/p${g.padH}x${g.padW} c${g.srcChannels}>${g.dstChannels} n${batchBucket} ${bucket(g.srcH)}x${bucket(g.srcW)}>${bucket(g.dstH)}x${bucket(g.dstW)}`;
}

/** The table keys of one planned convolution: its own, then those it may borrow a choice from, nearest first. */
export function tableKeys(direction: ConvDirection, layer: ConvGeometry, plans: readonly ConvPlan[]): string[] {
  const candidates = ` [${plans.map((p) => p.kernel).join(' ')}]`;
  const own = bucket(layer.batch);
  const buckets = [own, ...BORROWED_BUCKETS.map((f) => own * f).filter((b) => b >= 1 && Number.isInteger(b))];
  return buckets.map((b) => tuneKey(direction, layer, b) + candidates);
}

const conv = (n: number, c: number, h: number, w: number, cout: number, k: number, stride: number, pad: number): ConvGeometry => ({
  batch: n, srcChannels: c, srcH: h, srcW: w, dstChannels: cout, kh: k, kw: k, strideH: stride, strideW: stride, padH: pad, padW: pad,
  dstH: Math.floor((h + 2 * pad - k) / stride) + 1, dstW: Math.floor((w + 2 * pad - k) / stride) + 1,
});
const transposed = (n: number, c: number, h: number, w: number, cout: number, k: number, stride: number, pad: number): ConvGeometry => ({
  batch: n, srcChannels: c, srcH: h, srcW: w, dstChannels: cout, kh: k, kw: k, strideH: stride, strideW: stride, padH: pad, padW: pad,
  dstH: (h - 1) * stride - 2 * pad + k, dstW: (w - 1) * stride - 2 * pad + k,
});

const CONV: ConvDirection[] = ['forward', 'grad-input', 'grad-weight'];
const TRANSPOSE: ConvDirection[] = ['transpose-forward', 'transpose-grad-input', 'transpose-grad-weight'];

/** Layers whose candidates reach every convolution kernel and its variants (kernelVersion hashes their code). */
const VERSION_LAYERS: [ConvGeometry, ConvDirection[]][] = [
  [conv(2, 8, 16, 16, 16, 3, 1, 1), CONV],
  [conv(2, 5, 15, 13, 24, 3, 2, 1), CONV],
  [conv(1, 3, 5, 3, 36, 3, 1, 1), CONV],
  [conv(2, 6, 8, 8, 4, 1, 1, 0), CONV],
  [conv(2, 13, 7, 7, 5, 1, 2, 0), CONV],
  [conv(1, 3, 33, 31, 8, 7, 2, 3), CONV],
  [conv(1, 4, 6, 6, 70, 5, 2, 1), CONV],
  [transposed(2, 16, 8, 8, 8, 2, 2, 0), TRANSPOSE],
  [transposed(2, 3, 4, 5, 5, 3, 2, 1), TRANSPOSE],
];

/**
 * A hash (FNV-1a) of the WGSL of every candidate the planner makes for a fixed set of layers in
 * every direction, with and without bias, of each operand type: it changes whenever a
 * convolution kernel's code does, and keys the persisted table (tune-store.ts).
 */
export function kernelVersion(plansOf: (direction: ConvDirection, layer: ConvGeometry, hasBias: boolean, operands: ConvOperandType) => readonly ConvPlan[], operandTypes: readonly ConvOperandType[]): string {
  let h = 0x811c9dc5;
  const seen = new Set<string>();
  for (const [g, directions] of VERSION_LAYERS) {
    for (const direction of directions) {
      for (const hasBias of [false, true]) {
        for (const operands of operandTypes) {
          for (const plan of plansOf(direction, g, hasBias, operands)) {
            for (const { kernel } of plan.launches) {
              const id = `${kernel.name}|${kernel.key}`;
              if (seen.has(id)) continue;
              seen.add(id);
              const text = `${id}\n${kernel.source()}`;
              for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
            }
          }
        }
      }
    }
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export interface ConvTunerConfig {
  /** Choices are used (and autotune() measures); false: the planner's order, always. */
  enabled: boolean;
  /** Which adapter the table is for (the store keeps one per adapter). */
  adapterId: string;
  /** kernelVersion() of this runtime's kernels: the store keeps the table only for it. */
  kernels: string;
  store: TuneStore | null;
  persisted?: TuneTable;
  /** Seconds autotune() may spend timing over the runtime's life. */
  budgetSeconds: number;
}

export class ConvTuner {
  readonly enabled: boolean;
  readonly adapterId: string;
  readonly kernels: string;
  private readonly store: TuneStore | null;
  private readonly table: Map<string, string>;
  private discovered: Map<string, TuneRequest> | null = null;
  private readonly budgetMs: number;
  private spentMs = 0;

  constructor(config: ConvTunerConfig) {
    this.enabled = config.enabled;
    this.adapterId = config.adapterId;
    this.kernels = config.kernels;
    this.store = config.store;
    this.table = new Map(config.enabled ? Object.entries(config.persisted ?? {}) : []);
    this.budgetMs = config.budgetSeconds * 1000;
  }

  /** The plan to run: the tuned choice of the first of `keys` (tableKeys) that has one, else the planner's first. */
  choose(keys: readonly string[], plans: readonly ConvPlan[]): ConvPlan {
    if (plans.length === 1 || !this.enabled) return plans[0];
    for (const key of keys) {
      const chosen = this.table.get(key);
      const plan = chosen === undefined ? undefined : plans.find((p) => p.kernel === chosen);
      if (plan) return plan;
    }
    return plans[0];
  }

  /** While discovering, remember a convolution with several candidates and no choice of its own yet. */
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

  /** Milliseconds of the timing budget left. */
  get remainingMs(): number {
    return Math.max(0, this.budgetMs - this.spentMs);
  }

  /** Count `ms` of timing against the budget. */
  spend(ms: number): void {
    this.spentMs += ms;
  }

  get budgetSeconds(): number {
    return this.budgetMs / 1000;
  }

  /** Writes the table where the next process finds it (a no-op without a store). */
  async persist(): Promise<void> {
    await this.store?.save(this.adapterId, this.kernels, Object.fromEntries(this.table));
  }

  get storePath(): string | null {
    return this.store?.path ?? null;
  }
}
