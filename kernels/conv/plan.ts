/**
 * Which kernels run a convolution: one table per pattern of the candidate kernels, in the order
 * they are preferred, each with the rule of when it applies. `convPlans` is a pure function of
 * the direction, the layer's geometry and the adapter's capabilities (engine/caps.ts); the
 * engine runs the first plan, or the one the autotuner (engine/autotune.ts) measured fastest.
 * `node scripts/conv-table.mjs` prints these tables (docs/kernels.md).
 *
 * A direction is one of the three patterns of geometry.ts on a geometry derived from the layer's:
 *
 *   direction               pattern                     src   weight role   result
 *   forward                 gather                      x     w             y
 *   grad-input              gather, flipped (stride 1)  dY    w             dx
 *                           scatter (otherwise)
 *   grad-weight             weight                      x     dY (grad)     dw
 *   transpose-forward       tiled (exact tiling)        x     w             y
 *                           scatter (otherwise)
 *   transpose-grad-input    gather                      dY    w             dx
 *   transpose-grad-weight   weight                      dY    x (grad)      dw
 */
import { grid, MAX_GROUPS_PER_DIM, type KernelSpec } from '../kernel.js';
import { GEMM_TILES, gemmTileFor, stagingBytes, type GemmTileName } from './gemm-tiles.js';
import { convGemmLaunch, convTransposeGemmLaunch, convWeightGemmLaunch } from './gemm.js';
import { convParams, directGrid, isRows3x3, subgroupWorkgroup, tapGroups, tileCount, SUBGROUP_TILE_C, TILE_C, TILE_X, type ConvGeometry } from './geometry.js';
import {
  convGatherKernel,
  convPackWeightsKernel,
  convScatterKernel,
  convTransposeTiledKernel,
  convWeightDirectKernel,
  convWeightKernel,
  packWeightsLaunch,
  packedWeightCount,
  transposeTiledLaunch,
  weightChunks,
  WEIGHT_DIRECT_MAX_POSITIONS,
} from './direct.js';
import { convGather3x3RowsKernel, convWeight1x1RowsKernel, convWeight3x3RowsKernel } from './rows.js';
import {
  convGatherChannelsSubgroupKernel,
  convGatherChannelsSubgroupLaunch,
  convGatherSubgroupKernel,
  convScatterSubgroupKernel,
  convScatterSubgroupLaunch,
  convWeight3x3RowsDirectSubgroupKernel,
  convWeightDirectSubgroupKernel,
  gatherTile,
} from './subgroup.js';

/**
 * Which of a convolution's passes a kernel computes: the forward, or the gradient of the input or
 * weights, of conv2d or of convTranspose2d (the table at the top of this file).
 */
export type ConvDirection = 'forward' | 'grad-input' | 'grad-weight' | 'transpose-forward' | 'transpose-grad-input' | 'transpose-grad-weight';

/** The element type of a convolution's operands (sources, weights, gradients); results are always f32. */
export type ConvOperandType = 'f32' | 'f16';

/** Which kernel families may run: both (the adapter's preferred one first), or only one. */
export type ConvStrategy = 'auto' | 'gemm' | 'direct';

/** What the planner needs to know of the adapter (engine/caps.ts AdapterCaps has it). */
export interface PlannerCaps {
  readonly software: boolean;
  readonly subgroupSize: number;
  readonly compilerBudget: 'small' | 'large';
  /** Workgroup memory a kernel may declare (GEMM block shapes that stage more are not planned). */
  readonly maxWorkgroupStorageBytes: number;
}

export interface PlannerOptions {
  strategy: ConvStrategy;
  /** Candidates never planned (to measure what one is worth). */
  exclude: ReadonlySet<string>;
}

/** The buffers a launch binds: the op's operands (see the table above), the packed weights, the result. */
export type ConvOperand = 'src' | 'weight' | 'grad' | 'bias' | 'packed' | 'out';

export interface ConvLaunch {
  kernel: KernelSpec;
  inputs: ConvOperand[];
  output: 'packed' | 'out';
  params: number[];
  workgroups: [number, number, number];
}

export interface ConvPlan {
  /** The candidate's name. */
  kernel: string;
  /** The type its float operands must have. */
  operands: ConvOperandType;
  launches: ConvLaunch[];
  /** Shape of the result. */
  shape: number[];
  /** Floats of the packed-weights temporary (0: none). */
  packed: number;
  /** `out` holds [result size, chunks] partial sums, added into the result afterwards (1: none). */
  chunks: number;
}

export type Pattern = 'gather' | 'flipped' | 'scatter' | 'weight' | 'tiled';
type Family = 'gemm' | 'direct';

/** A direct kernel (the GEMMs, one per block shape, are planned by GEMMS below). */
interface Candidate {
  name: string;
  /** Which adapters it is for. */
  adapter(caps: PlannerCaps): boolean;
  /** Which layers it applies to, for the docs' table (`applies` is the rule). */
  rule: string;
  applies(g: ConvGeometry, caps: PlannerCaps): boolean;
  plan(g: ConvGeometry, caps: PlannerCaps, hasBias: boolean): Omit<ConvPlan, 'kernel' | 'shape' | 'operands'>;
}

const one = (kernel: KernelSpec, inputs: ConvOperand[], params: number[], workgroups: [number, number, number]) => ({
  launches: [{ kernel, inputs, output: 'out' as const, params, workgroups }],
  packed: 0,
  chunks: 1,
});
const withBias = (inputs: ConvOperand[], hasBias: boolean): ConvOperand[] => (hasBias ? [...inputs, 'bias'] : inputs);
const fits = (workgroups: readonly number[]) => workgroups.every((n) => n <= MAX_GROUPS_PER_DIM);
const anyAdapter = () => true;
/** The subgroup kernels: CPU adapters whose subgroups have one size, with a compiler that handles their many live values. */
const withSubgroups = (caps: PlannerCaps) => caps.software && caps.subgroupSize > 0 && caps.compilerBudget === 'large';
/** Kernels with 9 taps' sums live: not for a small compiler budget. */
const largeBudget = (caps: PlannerCaps) => caps.compilerBudget === 'large';
/** Taps a direct weight-gradient invocation accumulates per pass. */
const tapsPerPass = (caps: PlannerCaps) => (largeBudget(caps) ? 9 : 5);

/** A gather with packed weights: the pack launch, then the gather reading `packed`. */
function packedGather(g: ConvGeometry, flipped: boolean, gather: ConvLaunch): Omit<ConvPlan, 'kernel' | 'shape' | 'operands'> {
  const pack: ConvLaunch = { kernel: convPackWeightsKernel(flipped), inputs: ['weight'], output: 'packed', ...packWeightsLaunch(g) };
  return { launches: [pack, gather], packed: packedWeightCount(g), chunks: 1 };
}

/** Subgroup gathers: one invocation per output position tile, grid rows over SUBGROUP_TILE_C channels. */
function subgroupGatherLaunch(g: ConvGeometry, subgroupSize: number) {
  const total = g.batch * g.dstH * Math.ceil(g.dstW / TILE_X);
  const workgroupSize = subgroupWorkgroup(total, subgroupSize);
  return { total, workgroupSize, workgroups: [Math.ceil(total / workgroupSize), Math.ceil(g.dstChannels / SUBGROUP_TILE_C), 1] as [number, number, number] };
}

/**
 * GEMM candidates among the block shapes whose staging fits the adapter's workgroup memory: the
 * one gemm-tiles.ts picks first (else the next that fits); on GPUs every other one too, for the
 * autotuner.
 */
function gemmTiles(M: number, N: number, caps: PlannerCaps, splitK = false): GemmTileName[] {
  const first = gemmTileFor(M, N, splitK);
  const fitting = [first, ...(Object.keys(GEMM_TILES) as GemmTileName[]).filter((t) => t !== first)].filter((t) => stagingBytes(GEMM_TILES[t]) <= caps.maxWorkgroupStorageBytes);
  return caps.software ? fitting.slice(0, 1) : fitting;
}

function gatherCandidates(flipped: boolean): Candidate[] {
  return [
    {
      name: 'gather-channels-subgroup',
      adapter: withSubgroups,
      rule: 'output rows narrower than 4 columns',
      applies: (g, caps) => g.dstW < TILE_X && fits(convGatherChannelsSubgroupLaunch(g, caps.subgroupSize).workgroups),
      plan: (g, caps, hasBias) =>
        packedGather(g, flipped, { kernel: convGatherChannelsSubgroupKernel(hasBias, g.kh, g.kw, caps.subgroupSize), inputs: withBias(['src', 'packed'], hasBias), output: 'out', ...convGatherChannelsSubgroupLaunch(g, caps.subgroupSize) }),
    },
    {
      name: 'gather-subgroup',
      adapter: withSubgroups,
      rule: 'any',
      applies: (g, caps) => fits(subgroupGatherLaunch(g, caps.subgroupSize).workgroups),
      plan: (g, caps, hasBias) => {
        const { total, workgroupSize, workgroups } = subgroupGatherLaunch(g, caps.subgroupSize);
        const kernel = convGatherSubgroupKernel(hasBias, g.kh, g.kw, caps.subgroupSize, workgroupSize, gatherTile(g));
        return packedGather(g, flipped, { kernel, inputs: withBias(['src', 'packed'], hasBias), output: 'out', params: convParams(g, total), workgroups });
      },
    },
    {
      name: 'gather-3x3-rows',
      adapter: anyAdapter,
      rule: '3×3/s1/p1, rows a whole number of vec4s',
      applies: (g) => isRows3x3(g),
      plan: (g, _caps, hasBias) => packedGather(g, flipped, { kernel: convGather3x3RowsKernel(hasBias), inputs: withBias(['src', 'packed'], hasBias), output: 'out', params: convParams(g, tileCount(g)), workgroups: directGrid(tileCount(g)) }),
    },
    {
      name: 'gather',
      adapter: anyAdapter,
      rule: 'any',
      applies: () => true,
      plan: (g, _caps, hasBias) => packedGather(g, flipped, { kernel: convGatherKernel(hasBias), inputs: withBias(['src', 'packed'], hasBias), output: 'out', params: convParams(g, tileCount(g)), workgroups: directGrid(tileCount(g)) }),
    },
  ];
}

const SCATTER: Candidate[] = [
  {
    name: 'scatter-subgroup',
    adapter: withSubgroups,
    rule: 'any',
    applies: (g, caps) => fits(convScatterSubgroupLaunch(g, caps.subgroupSize).workgroups),
    plan: (g, caps, hasBias) => {
      const { params, workgroupSize, workgroups } = convScatterSubgroupLaunch(g, caps.subgroupSize);
      return one(convScatterSubgroupKernel(hasBias, caps.subgroupSize, workgroupSize), withBias(['src', 'weight'], hasBias), params, workgroups);
    },
  },
  {
    name: 'scatter',
    adapter: anyAdapter,
    rule: 'any',
    applies: () => true,
    plan: (g, _caps, hasBias) => one(convScatterKernel(hasBias), withBias(['src', 'weight'], hasBias), convParams(g, tileCount(g)), directGrid(tileCount(g))),
  },
];

/** Positions of a weight gradient (the sum's length). */
const positions = (g: ConvGeometry) => g.batch * g.dstH * g.dstW;
const weightTiles = (g: ConvGeometry) => Math.ceil(g.dstChannels / TILE_C) * g.srcChannels;
const laneTiles = (g: ConvGeometry, caps: PlannerCaps) => Math.ceil(g.dstChannels / TILE_C) >= caps.subgroupSize;

/** The weight-gradient passes of a kernel specialized on a tap range, one per tap group. */
function tapPasses(g: ConvGeometry, caps: PlannerCaps, kernel: (first: number, count: number) => KernelSpec, params: number[], workgroups: [number, number, number], chunks: number) {
  return {
    launches: tapGroups(g.kh, g.kw, tapsPerPass(caps)).map(([first, count]) => ({ kernel: kernel(first, count), inputs: ['grad', 'src'] as ConvOperand[], output: 'out' as const, params, workgroups })),
    packed: 0,
    chunks,
  };
}

const WEIGHT: Candidate[] = [
  {
    name: 'weight-3x3-rows-direct-subgroup',
    adapter: withSubgroups,
    rule: `3×3/s1/p1 rows of vec4s, ≤ ${WEIGHT_DIRECT_MAX_POSITIONS} positions or a lane per 4 output channels`,
    applies: (g, caps) => isRows3x3(g) && g.srcChannels <= MAX_GROUPS_PER_DIM && (positions(g) <= WEIGHT_DIRECT_MAX_POSITIONS || laneTiles(g, caps)),
    plan: (g, caps) =>
      one(convWeight3x3RowsDirectSubgroupKernel(caps.subgroupSize), ['grad', 'src'], convParams(g, 0), [Math.ceil(Math.ceil(g.dstChannels / TILE_C) / caps.subgroupSize), g.srcChannels, 1]),
  },
  {
    name: 'weight-1x1-rows',
    adapter: anyAdapter,
    rule: '1×1/s1/p0, planes a whole number of vec4s',
    applies: (g) => g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0 && (g.dstH * g.dstW) % 4 === 0,
    plan: (g) => one(convWeight1x1RowsKernel(), ['grad', 'src'], convParams(g, g.dstChannels * g.srcChannels), directGrid(g.dstChannels * g.srcChannels)),
  },
  {
    name: 'weight-direct-subgroup',
    adapter: withSubgroups,
    rule: `≤ ${WEIGHT_DIRECT_MAX_POSITIONS} positions, ≤ 9 taps, a lane per 4 output channels`,
    applies: (g, caps) => positions(g) <= WEIGHT_DIRECT_MAX_POSITIONS && laneTiles(g, caps) && g.kh * g.kw <= 9 && g.srcChannels <= MAX_GROUPS_PER_DIM,
    plan: (g, caps) => one(convWeightDirectSubgroupKernel(g.kh, g.kw, caps.subgroupSize), ['grad', 'src'], convParams(g, g.srcChannels), [g.srcChannels, Math.ceil(g.dstChannels / (TILE_C * caps.subgroupSize)), 1]),
  },
  {
    name: 'weight-direct',
    adapter: anyAdapter,
    rule: `≤ ${WEIGHT_DIRECT_MAX_POSITIONS} positions`,
    applies: (g) => positions(g) <= WEIGHT_DIRECT_MAX_POSITIONS,
    plan: (g, caps) => tapPasses(g, caps, (first, count) => convWeightDirectKernel(g.kh, g.kw, first, count), convParams(g, weightTiles(g)), directGrid(weightTiles(g)), 1),
  },
  {
    name: 'weight-3x3-rows',
    adapter: largeBudget,
    rule: '3×3/s1/p1 rows of vec4s',
    applies: (g) => isRows3x3(g),
    plan: (g) => {
      // Positions taken 4 at a time (a vec4 of columns): chunk lengths count those groups.
      const chunks = weightChunks(g);
      return { ...one(convWeight3x3RowsKernel(), ['grad', 'src'], convParams(g, weightTiles(g), chunks, Math.ceil(positions(g) / 4 / chunks)), grid(weightTiles(g) * chunks)), chunks };
    },
  },
  {
    name: 'weight',
    adapter: anyAdapter,
    rule: 'any',
    applies: () => true,
    plan: (g, caps) => {
      const chunks = weightChunks(g);
      return tapPasses(g, caps, (first, count) => convWeightKernel(g.kh, g.kw, first, count), convParams(g, weightTiles(g), chunks, Math.ceil(positions(g) / chunks)), grid(weightTiles(g) * chunks), chunks);
    },
  },
];

/** conv-transpose forward where the kernel tiles the output exactly: stride = kernel, no padding, no output padding. */
export function tilesExactly(g: ConvGeometry): boolean {
  return g.strideH === g.kh && g.strideW === g.kw && g.padH === 0 && g.padW === 0 && g.dstH === g.srcH * g.kh && g.dstW === g.srcW * g.kw;
}

/** The exact tiling is also a scatter: the stride-class subgroup scatter serves it too where it applies. */
const TILED: Candidate[] = [
  SCATTER[0],
  {
    name: 'transpose-tiled',
    adapter: anyAdapter,
    rule: 'any',
    applies: () => true,
    plan: (g, _caps, hasBias) => {
      const { params, workgroups } = transposeTiledLaunch(g);
      return one(convTransposeTiledKernel(g.kh, g.kw, hasBias), withBias(['src', 'weight'], hasBias), params, workgroups);
    },
  },
];

/** A GEMM candidate's name: its block shape, and `f16` for the float16-operand GEMMs. */
const gemmName = (tile: GemmTileName, half: boolean) => `gemm-${half ? 'f16-' : ''}${tile}`;

/** Implicit GEMMs of the gather and scatter patterns: one candidate per block shape. */
function gemm(pattern: 'gather' | 'flipped' | 'scatter', g: ConvGeometry, caps: PlannerCaps, hasBias: boolean, half: boolean): [string, Omit<ConvPlan, 'kernel' | 'shape' | 'operands'>][] {
  return gemmTiles(g.dstChannels, g.batch * g.dstH * g.dstW, caps).map((tile) => {
    const launch = convGemmLaunch(g, hasBias, pattern, tile, half);
    return [gemmName(tile, half), one(launch.kernel, withBias(['src', 'weight'], hasBias), launch.params, launch.workgroups)];
  });
}

type GemmCandidates = (g: ConvGeometry, caps: PlannerCaps, hasBias: boolean, half: boolean) => [string, Omit<ConvPlan, 'kernel' | 'shape' | 'operands'>][];

const GEMMS: Record<Pattern, GemmCandidates> = {
  gather: (g, caps, hasBias, half) => gemm('gather', g, caps, hasBias, half),
  flipped: (g, caps, hasBias, half) => gemm('flipped', g, caps, hasBias, half),
  scatter: (g, caps, hasBias, half) => gemm('scatter', g, caps, hasBias, half),
  weight: (g, caps, _hasBias, half) =>
    gemmTiles(g.dstChannels, g.srcChannels * g.kh * g.kw, caps, true).map((tile) => {
      const { chunks, ...launch } = convWeightGemmLaunch(g, tile, half);
      return [gemmName(tile, half), { ...one(launch.kernel, ['grad', 'src'], launch.params, launch.workgroups), chunks }];
    }),
  tiled: (g, caps, hasBias, half) =>
    gemmTiles(g.dstChannels * g.kh * g.kw, g.batch * g.srcH * g.srcW, caps).map((tile) => {
      const launch = convTransposeGemmLaunch(g, hasBias, tile, half);
      return [gemmName(tile, half), one(launch.kernel, withBias(['src', 'weight'], hasBias), launch.params, launch.workgroups)];
    }),
};

/** The direct candidates of each pattern, preferred first. */
export const DIRECT_CANDIDATES: Record<Pattern, readonly Candidate[]> = {
  gather: gatherCandidates(false),
  flipped: gatherCandidates(true),
  scatter: SCATTER,
  weight: WEIGHT,
  tiled: TILED,
};

/** The layer seen from its output: dY is the source, dx the destination. */
const swapped = (g: ConvGeometry): ConvGeometry => ({ ...g, srcChannels: g.dstChannels, srcH: g.dstH, srcW: g.dstW, dstChannels: g.srcChannels, dstH: g.srcH, dstW: g.srcW });

/** Which pattern runs each direction, on what geometry (the table at the top of this file); the first case that holds. */
export const DIRECTION_PATTERNS: readonly { direction: ConvDirection; when: string; holds(layer: ConvGeometry): boolean; pattern: Pattern; geometry(layer: ConvGeometry): ConvGeometry }[] = [
  { direction: 'forward', when: '', holds: () => true, pattern: 'gather', geometry: (g) => g },
  {
    direction: 'grad-input',
    when: 'stride 1, padding < kernel',
    holds: (g) => g.strideH === 1 && g.strideW === 1 && g.padH < g.kh && g.padW < g.kw,
    // A gather over dY with the flipped, transposed kernel and padding K − 1 − p.
    pattern: 'flipped',
    geometry: (g) => ({ ...swapped(g), padH: g.kh - 1 - g.padH, padW: g.kw - 1 - g.padW }),
  },
  { direction: 'grad-input', when: 'otherwise', holds: () => true, pattern: 'scatter', geometry: swapped },
  { direction: 'grad-weight', when: '', holds: () => true, pattern: 'weight', geometry: (g) => g },
  { direction: 'transpose-forward', when: 'stride = kernel, no padding or output padding', holds: (g) => tilesExactly(g), pattern: 'tiled', geometry: (g) => g },
  { direction: 'transpose-forward', when: 'otherwise', holds: () => true, pattern: 'scatter', geometry: (g) => g },
  { direction: 'transpose-grad-input', when: '', holds: () => true, pattern: 'gather', geometry: swapped },
  // grad-weight[ci, co] = Σ x[n,ci,y,x]·dY[n,co,y·s+kh−p,x·s+kw−p]: g-role = x (dst), src-role = dY.
  { direction: 'transpose-grad-weight', when: '', holds: () => true, pattern: 'weight', geometry: swapped },
];

/** The pattern and kernel geometry of a direction, from the layer's geometry (src = the layer's input, dst = its output). */
export function convPattern(direction: ConvDirection, layer: ConvGeometry): { pattern: Pattern; geometry: ConvGeometry } {
  const c = DIRECTION_PATTERNS.find((d) => d.direction === direction && d.holds(layer))!;
  return { pattern: c.pattern, geometry: c.geometry(layer) };
}

function resultShape(pattern: Pattern, g: ConvGeometry): number[] {
  return pattern === 'weight' ? [g.dstChannels, g.srcChannels, g.kh, g.kw] : [g.batch, g.dstChannels, g.dstH, g.dstW];
}

/**
 * Every plan that applies, preferred first: the adapter's family (direct kernels on CPU adapters,
 * GEMMs on GPUs) before the other. `operands` `f16`: the float16 operands of mixed precision,
 * which only the GEMMs read (whatever the strategy).
 */
export function convPlans(direction: ConvDirection, layer: ConvGeometry, caps: PlannerCaps, hasBias: boolean, options: PlannerOptions, operands: ConvOperandType = 'f32'): ConvPlan[] {
  const { pattern, geometry } = convPattern(direction, layer);
  const shape = resultShape(pattern, geometry);
  const half = operands === 'f16';
  const direct = (): ConvPlan[] =>
    // The direct kernels are for CPU adapters (on a GPU only when asked for), and read float32.
    !half && (caps.software || options.strategy === 'direct')
      ? DIRECT_CANDIDATES[pattern].filter((c) => !options.exclude.has(c.name) && c.adapter(caps) && c.applies(geometry, caps)).map((c) => ({ kernel: c.name, operands, shape, ...c.plan(geometry, caps, hasBias) }))
      : [];
  const gemms = (): ConvPlan[] => GEMMS[pattern](geometry, caps, hasBias, half).filter(([name]) => !options.exclude.has(name)).map(([kernel, plan]) => ({ kernel, operands, shape, ...plan }));
  const order: Family[] = half || options.strategy === 'gemm' ? ['gemm'] : options.strategy === 'direct' ? ['direct'] : caps.software ? ['direct', 'gemm'] : ['gemm', 'direct'];
  const plans = order.flatMap((family) => (family === 'gemm' ? gemms() : direct()));
  if (plans.length === 0) throw new Error(`conv ${direction}: every candidate kernel is excluded (${[...options.exclude].join(', ')})`);
  return plans;
}
