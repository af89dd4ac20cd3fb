/**
 * conv2d and conv-transpose2d (NCHW), forward and backward: implicit GEMMs (kernels/conv-gemm.ts)
 * on GPUs; on CPU adapters the direct kernels of kernels/conv.ts, each pattern's row-vector or
 * subgroup variant where the shape and adapter allow it (engine/tuning.ts).
 */
import {
  CONV_WEIGHT_DIRECT_MAX_POSITIONS,
  CONV_TILE_C,
  CONV_WEIGHT_WORKGROUP,
  convElementGrid,
  convPackWeightsKernel,
  convPackWeightsLaunch,
  convPackedWeightCount,
  convGatherKernel,
  convGather3x3RowsApplies,
  convGatherTile,
  convGatherChannelsApplies,
  convGatherChannelsSubgroupKernel,
  convGatherChannelsSubgroupLaunch,
  convGather3x3RowsKernel,
  convGather3x3RowsSubgroupKernel,
  convGatherSubgroupKernel,
  convSubgroupLaunch,
  CONV_TILE_X,
  convWeight3x3RowsKernel,
  convParams,
  convScatterKernel,
  convScatterSubgroupKernel,
  convScatterSubgroupLaunch,
  convTapGroups,
  convTileCount,
  convTransposeTiledKernel,
  convTranspose2x2RowsApplies,
  convTranspose2x2RowsKernel,
  convTranspose2x2RowsSubgroupKernel,
  convTranspose2x2RowsSubgroupLaunch,
  convTransposeTiledLaunch,
  convWeightDirectKernel,
  convWeightDirectSubgroupKernel,
  convWeightDirectSubgroupLaunch,
  convWeight1x1RowsApplies,
  convWeight1x1RowsKernel,
  convWeight3x3RowsDirectKernel,
  convWeight3x3RowsDirectSubgroupKernel,
  convWeight3x3RowsDirectSubgroupLaunch,
  convWeightKernel,
  convWeightTiles,
  type ConvGeometry,
} from '../../kernels/conv.js';
import { convGemmLaunch, convTransposeGemmLaunch, convTransposeTilesExactly, convWeightGemmLaunch } from '../../kernels/conv-gemm.js';
import { MAX_GROUPS_PER_DIM, grid } from '../../kernels/kernel.js';
import { needsGrad, record } from '../autograd.js';
import { getRuntime } from '../runtime.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { sum } from './reduce.js';

export type Pair = number | readonly [number, number];

/** Workgroups the weight-gradient launch aims for (chunking positions), enough to fill a GPU. */
const CONV_WEIGHT_TARGET_GROUPS = 256;

function pair(v: Pair | undefined, fallback: number, what: string): [number, number] {
  const out: [number, number] = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!out.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`${what} must be non-negative integers, got ${JSON.stringify(v)}`);
  return out;
}

function dispatchElementwise(kind: 'gather' | 'scatter', src: Tensor, weight: Tensor, bias: Tensor | null, geometry: ConvGeometry, flipped = false): Tensor {
  const out = Tensor.empty([geometry.batch, geometry.dstChannels, geometry.dstH, geometry.dstW]);
  if (out.size === 0) return out;
  const runtime = getRuntime();
  const inputs = bias ? [src.buffer, weight.buffer, bias.buffer] : [src.buffer, weight.buffer];
  if (runtime.tuning.conv === 'gemm') {
    const pattern = kind === 'scatter' ? 'scatter' : flipped ? 'flipped' : 'gather';
    runtime.dispatch({ ...convGemmLaunch(geometry, bias !== null, pattern, runtime.tuning.gemmTile), inputs, outputs: [out.buffer] });
    return out;
  }
  if (kind === 'scatter') {
    const subgroupSize = runtime.tuning.subgroupSize;
    const launch = subgroupSize > 0 ? convScatterSubgroupLaunch(geometry, subgroupSize) : null;
    if (launch && launch.workgroups[0] <= MAX_GROUPS_PER_DIM) {
      const { params, workgroupSize, workgroups } = launch;
      runtime.dispatch({ kernel: convScatterSubgroupKernel(bias !== null, subgroupSize, workgroupSize), inputs, outputs: [out.buffer], params, workgroups });
    } else {
      runtime.dispatch({ kernel: convScatterKernel(bias !== null), inputs, outputs: [out.buffer], params: convParams(geometry, convTileCount(geometry)), workgroups: convElementGrid(convTileCount(geometry)) });
    }
    return out;
  }
  const count = convPackedWeightCount(geometry);
  const packed = Tensor.empty([count]);
  runtime.dispatch({ kernel: convPackWeightsKernel(flipped), ...convPackWeightsLaunch(geometry), inputs: [weight.buffer], outputs: [packed.buffer] });
  const gatherInputs = bias ? [src.buffer, packed.buffer, bias.buffer] : [src.buffer, packed.buffer];
  const rows = convGather3x3RowsApplies(geometry);
  const subgroupSize = runtime.tuning.subgroupSize;
  const channelLanes = subgroupSize > 0 && convGatherChannelsApplies(geometry) ? convGatherChannelsSubgroupLaunch(geometry, subgroupSize) : null;
  if (channelLanes && channelLanes.workgroups[0] <= MAX_GROUPS_PER_DIM) {
    runtime.dispatch({ kernel: convGatherChannelsSubgroupKernel(bias !== null, geometry.kh, geometry.kw, subgroupSize), inputs: gatherInputs, outputs: [out.buffer], ...channelLanes });
    packed.dispose();
    return out;
  }
  const { batch, dstH, dstW } = geometry;
  const subgroupLaunch = subgroupSize > 0 ? convSubgroupLaunch(batch * dstH * Math.ceil(dstW / CONV_TILE_X), geometry.dstChannels, subgroupSize) : null;
  if (subgroupLaunch && subgroupLaunch.workgroups[0] <= MAX_GROUPS_PER_DIM) {
    const { total, workgroupSize, workgroups } = subgroupLaunch;
    runtime.dispatch({
      kernel: rows
        ? convGather3x3RowsSubgroupKernel(bias !== null, subgroupSize, workgroupSize)
        : convGatherSubgroupKernel(bias !== null, geometry.kh, geometry.kw, subgroupSize, workgroupSize, convGatherTile(geometry)),
      inputs: gatherInputs,
      outputs: [out.buffer],
      params: convParams(geometry, total),
      workgroups,
    });
  } else {
    runtime.dispatch({
      kernel: rows ? convGather3x3RowsKernel(bias !== null) : convGatherKernel(bias !== null),
      inputs: gatherInputs,
      outputs: [out.buffer],
      params: convParams(geometry, convTileCount(geometry)),
      workgroups: convElementGrid(convTileCount(geometry)),
    });
  }
  packed.dispose();
  return out;
}

/** dw[a,b,kh,kw] = Σ g[n,a,y,x]·src[n,b,y·s+kh−p,x·s+kw−p]; geometry's dst is g's. */
function weightGrad(g: Tensor, src: Tensor, geometry: ConvGeometry): Tensor {
  const tiles = convWeightTiles(geometry);
  const weights = geometry.dstChannels * geometry.srcChannels * geometry.kh * geometry.kw;
  const count = geometry.batch * geometry.dstH * geometry.dstW;
  const shape = [geometry.dstChannels, geometry.srcChannels, geometry.kh, geometry.kw];
  const runtime = getRuntime();
  if (runtime.tuning.conv === 'gemm') {
    const { chunks, ...launch } = convWeightGemmLaunch(geometry, runtime.tuning.gemmTile);
    const partial = Tensor.empty(chunks === 1 ? shape : [weights, chunks]);
    runtime.dispatch({ ...launch, inputs: [g.buffer, src.buffer], outputs: [partial.buffer] });
    return chunks === 1 ? partial : sumChunks(partial, shape);
  }
  const rows = convGather3x3RowsApplies(geometry) && runtime.tuning.convTapGroup >= 9;
  const subgroupSize = runtime.tuning.subgroupSize;
  // One subgroup of output-channel tiles per input channel, each walking every position: on CPU
  // adapters a few dozen workgroups keep all cores busy, and the lanes must have tiles of their
  // own (with fewer than 4 · lanes output channels the chunked kernel below is faster).
  const subgroupRows = rows && subgroupSize > 0 && geometry.srcChannels <= MAX_GROUPS_PER_DIM;
  if (subgroupRows && (count <= CONV_WEIGHT_DIRECT_MAX_POSITIONS || Math.ceil(geometry.dstChannels / CONV_TILE_C) >= subgroupSize)) {
    const out = Tensor.empty(shape);
    runtime.dispatch({ kernel: convWeight3x3RowsDirectSubgroupKernel(subgroupSize), ...convWeight3x3RowsDirectSubgroupLaunch(geometry, subgroupSize), inputs: [g.buffer, src.buffer], outputs: [out.buffer] });
    return out;
  }
  if (convWeight1x1RowsApplies(geometry)) {
    const out = Tensor.empty(shape);
    const pairs = geometry.dstChannels * geometry.srcChannels;
    runtime.dispatch({ kernel: convWeight1x1RowsKernel(), inputs: [g.buffer, src.buffer], outputs: [out.buffer], params: convParams(geometry, pairs), workgroups: convElementGrid(pairs) });
    return out;
  }
  if (count <= CONV_WEIGHT_DIRECT_MAX_POSITIONS) {
    const out = Tensor.empty(shape);
    if (rows) {
      runtime.dispatch({ kernel: convWeight3x3RowsDirectKernel(), inputs: [g.buffer, src.buffer], outputs: [out.buffer], params: convParams(geometry, tiles), workgroups: convElementGrid(tiles) });
      return out;
    }
    // All taps in one pass, few enough to keep their sums in registers (not the 7×7 stem), and
    // output channels that fill the lanes.
    const tapCount = geometry.kh * geometry.kw;
    const lanesFilled = Math.ceil(geometry.dstChannels / CONV_TILE_C) >= subgroupSize;
    if (subgroupSize > 0 && lanesFilled && tapCount <= Math.min(9, runtime.tuning.convTapGroup) && geometry.srcChannels <= MAX_GROUPS_PER_DIM) {
      runtime.dispatch({ kernel: convWeightDirectSubgroupKernel(geometry.kh, geometry.kw, subgroupSize), ...convWeightDirectSubgroupLaunch(geometry, subgroupSize), inputs: [g.buffer, src.buffer], outputs: [out.buffer] });
      return out;
    }
    for (const [first, taps] of convTapGroups(geometry.kh, geometry.kw, runtime.tuning.convTapGroup)) {
      runtime.dispatch({
        kernel: convWeightDirectKernel(geometry.kh, geometry.kw, first, taps),
        inputs: [g.buffer, src.buffer],
        outputs: [out.buffer],
        params: convParams(geometry, tiles),
        workgroups: convElementGrid(tiles),
      });
    }
    return out;
  }
  // Many positions per weight: split them into chunks so that there are enough workgroups, then add the partial sums.
  const chunks = Math.max(1, Math.min(Math.ceil(count / (16 * CONV_WEIGHT_WORKGROUP)), Math.ceil(CONV_WEIGHT_TARGET_GROUPS / tiles)));
  const partial = Tensor.empty(chunks === 1 ? shape : [weights, chunks]);
  if (rows) {
    // Positions taken 4 at a time (a vec4 of columns): chunk lengths count those groups.
    runtime.dispatch({
      kernel: convWeight3x3RowsKernel(),
      inputs: [g.buffer, src.buffer],
      outputs: [partial.buffer],
      params: convParams(geometry, tiles, chunks, Math.ceil(count / 4 / chunks)),
      workgroups: grid(tiles * chunks),
    });
    return chunks === 1 ? partial : sumChunks(partial, shape);
  }
  for (const [first, taps] of convTapGroups(geometry.kh, geometry.kw, runtime.tuning.convTapGroup)) {
    runtime.dispatch({
      kernel: convWeightKernel(geometry.kh, geometry.kw, first, taps),
      inputs: [g.buffer, src.buffer],
      outputs: [partial.buffer],
      params: convParams(geometry, tiles, chunks, Math.ceil(count / chunks)),
      workgroups: grid(tiles * chunks),
    });
  }
  return chunks === 1 ? partial : sumChunks(partial, shape);
}

/** Adds the per-chunk partial sums [weights, chunks] of a weight gradient into `shape`. */
function sumChunks(partial: Tensor, shape: number[]): Tensor {
  const summed = sum(partial, 1);
  partial.dispose();
  const out = summed.viewAs(shape);
  summed.dispose();
  return out;
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
}

function conv2dGeometry(xShape: readonly number[], weightShape: readonly number[], options: Conv2dOptions): ConvGeometry {
  const [sh, sw] = pair(options.stride, 1, 'conv2d stride');
  const [ph, pw] = pair(options.padding, 0, 'conv2d padding');
  if (sh === 0 || sw === 0) throw new Error('conv2d: stride must be at least 1');
  if (xShape.length !== 4 || weightShape.length !== 4 || weightShape[1] !== xShape[1]) {
    throw new Error(`conv2d: needs x [N,Cin,H,W] and weight [Cout,Cin,KH,KW], got ${formatShape(xShape)} and ${formatShape(weightShape)}`);
  }
  const [N, Cin, H, W] = xShape;
  const [Cout, , KH, KW] = weightShape;
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  if (OH < 1 || OW < 1) throw new Error(`conv2d: input ${formatShape(xShape)} is smaller than the ${KH}×${KW} kernel with padding ${ph},${pw}`);
  return { batch: N, srcChannels: Cin, srcH: H, srcW: W, dstChannels: Cout, dstH: OH, dstW: OW, kh: KH, kw: KW, strideH: sh, strideW: sw, padH: ph, padW: pw };
}

/** conv2d's gradient with respect to its input x of shape `xShape`, from dY (like torch.nn.grad.conv2d_input). */
export function conv2dGradInput(dy: Tensor, weight: Tensor, xShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  const g = conv2dGeometry(xShape, weight.shape, options);
  const transposed = { ...g, srcChannels: g.dstChannels, srcH: g.dstH, srcW: g.dstW, dstChannels: g.srcChannels, dstH: g.srcH, dstW: g.srcW };
  if (g.strideH === 1 && g.strideW === 1 && g.padH < g.kh && g.padW < g.kw) {
    // Stride 1: a gather over dY with the flipped, transposed kernel and padding K − 1 − p.
    return dispatchElementwise('gather', dy, weight, null, { ...transposed, padH: g.kh - 1 - g.padH, padW: g.kw - 1 - g.padW }, true);
  }
  // Otherwise scatter dY back through the same window: src = dY [N,Cout,OH,OW], dst = [N,Cin,H,W].
  return dispatchElementwise('scatter', dy, weight, null, transposed);
}

/** conv2d's gradient with respect to a weight of shape `weightShape`, from dY and x (like torch.nn.grad.conv2d_weight). */
export function conv2dGradWeight(dy: Tensor, x: Tensor, weightShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  return weightGrad(dy, x, conv2dGeometry(x.shape, weightShape, options));
}

/** 2-D convolution: x [N,Cin,H,W], weight [Cout,Cin,KH,KW], bias [Cout] (like torch.nn.functional.conv2d). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const geometry = conv2dGeometry(x.shape, weight.shape, options);
  const Cout = geometry.dstChannels;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout)) throw new Error(`conv2d: bias must be [${Cout}], got ${formatShape(bias.shape)}`);
  const out = dispatchElementwise('gather', x, weight, bias, geometry);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (needsGrad(inputs)) {
    record('conv2d', inputs, out, [x, weight], (g, [sx, sw_]) => {
      const gx = x.requiresGrad ? conv2dGradInput(g, sw_, sx.shape, options) : null;
      const gw = weight.requiresGrad ? weightGrad(g, sx, geometry) : null;
      const gb = bias?.requiresGrad ? sum(g, [0, 2, 3]) : null;
      return bias ? [gx, gw, gb] : [gx, gw];
    });
  }
  return out;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

/**
 * Transposed 2-D convolution: x [N,Cin,H,W], weight [Cin,Cout,KH,KW], bias [Cout]; output size
 * (H−1)·stride − 2·padding + KH + outputPadding (like torch.nn.functional.conv_transpose2d).
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  const [sh, sw] = pair(options.stride, 1, 'convTranspose2d stride');
  const [ph, pw] = pair(options.padding, 0, 'convTranspose2d padding');
  const [oph, opw] = pair(options.outputPadding, 0, 'convTranspose2d outputPadding');
  if (sh === 0 || sw === 0) throw new Error('convTranspose2d: stride must be at least 1');
  if (oph >= sh || opw >= sw) throw new Error('convTranspose2d: outputPadding must be smaller than stride');
  if (x.rank !== 4 || weight.rank !== 4 || weight.shape[0] !== x.shape[1]) {
    throw new Error(`convTranspose2d: needs x [N,Cin,H,W] and weight [Cin,Cout,KH,KW], got ${formatShape(x.shape)} and ${formatShape(weight.shape)}`);
  }
  const [N, Cin, H, W] = x.shape;
  const [, Cout, KH, KW] = weight.shape;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Cout)) throw new Error(`convTranspose2d: bias must be [${Cout}], got ${formatShape(bias.shape)}`);
  const OH = (H - 1) * sh - 2 * ph + KH + oph;
  const OW = (W - 1) * sw - 2 * pw + KW + opw;
  if (OH < 1 || OW < 1) throw new Error(`convTranspose2d: padding ${ph},${pw} leaves no output for input ${formatShape(x.shape)}`);
  // Forward is conv2d's grad-input pattern: src = x, dst = [N,Cout,OH,OW].
  const scatter: ConvGeometry = { batch: N, srcChannels: Cin, srcH: H, srcW: W, dstChannels: Cout, dstH: OH, dstW: OW, kh: KH, kw: KW, strideH: sh, strideW: sw, padH: ph, padW: pw };
  const inputs = bias ? [x, weight, bias] : [x, weight];
  let out: Tensor;
  if (convTransposeTilesExactly(scatter, [oph, opw])) {
    // Every output comes from one (output channel, tap) × input pixel: a GEMM, no scatter.
    const runtime = getRuntime();
    const gemm = runtime.tuning.conv === 'gemm';
    out = Tensor.empty([N, Cout, OH, OW]);
    if (out.size > 0) {
      const rows = convTranspose2x2RowsApplies(scatter);
      const subgroupSize = runtime.tuning.subgroupSize;
      const subgroupLaunch = !gemm && rows && subgroupSize > 0 ? convTranspose2x2RowsSubgroupLaunch(scatter, subgroupSize) : null;
      runtime.dispatch({
        ...(gemm
          ? convTransposeGemmLaunch(scatter, bias !== null, runtime.tuning.gemmTile)
          : subgroupLaunch && subgroupLaunch.workgroups[0] <= MAX_GROUPS_PER_DIM
            ? { kernel: convTranspose2x2RowsSubgroupKernel(bias !== null, subgroupSize, subgroupLaunch.workgroupSize), params: subgroupLaunch.params, workgroups: subgroupLaunch.workgroups }
            : {
                kernel: rows ? convTranspose2x2RowsKernel(bias !== null) : convTransposeTiledKernel(KH, KW, bias !== null),
                ...convTransposeTiledLaunch(scatter),
              }),
        inputs: inputs.map((t) => t.buffer),
        outputs: [out.buffer],
      });
    }
  } else {
    out = dispatchElementwise('scatter', x, weight, bias, scatter);
  }
  if (needsGrad(inputs)) {
    record('convTranspose2d', inputs, out, [x, weight], (g, [sx, sw_]) => {
      // grad-input is conv2d's forward pattern: src = dY [N,Cout,OH,OW], weight read as [Cin, Cout].
      const gather: ConvGeometry = { ...scatter, srcChannels: Cout, srcH: OH, srcW: OW, dstChannels: Cin, dstH: H, dstW: W };
      const gx = x.requiresGrad ? dispatchElementwise('gather', g, sw_, null, gather) : null;
      // grad-weight[ci,co] = Σ x[n,ci,y,x]·dY[n,co,y·s+kh−p,x·s+kw−p]: g-role = x, src-role = dY.
      const gw = weight.requiresGrad ? weightGrad(sx, g, gather) : null;
      const gb = bias?.requiresGrad ? sum(g, [0, 2, 3]) : null;
      return bias ? [gx, gw, gb] : [gx, gw];
    });
  }
  return out;
}
