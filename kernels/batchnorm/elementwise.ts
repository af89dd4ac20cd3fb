/**
 * BatchNorm's elementwise kernels over NCHW, normalize and grad-input: 256 invocations per
 * workgroup, each taking `run` consecutive elements — vec4s of them with `vec4` — of one channel
 * (batchNormPlan chooses both), 2-D grid past 65535 workgroups.
 *
 * `relu`: BatchNorm followed by ReLU in one kernel (the models' conv → BN → ReLU), its backward
 * masking dY by y > 0 inside the BatchNorm gradient kernels: the same values as the two ops, one
 * pass over the activations fewer each way.
 */
import { LINEAR_GROUP_INDEX, grid, kernelFamily, type KernelSpec } from '../kernel.js';
import { RELU_FNS, entryPoint, kernelHeader } from '../wgsl.js';
import { BATCHNORM_PARAMS } from './plan.js';

const WORKGROUP = 256;

const NORMALIZE = kernelFamily('batchnorm-normalize');
const GRAD_INPUT = kernelFamily('batchnorm-grad-input');

/**
 * The `run` consecutive elements (or vec4s) from index `first` of this invocation, all of channel
 * c, and the per-element `body` (index i) for each; returns past the end.
 */
const ELEMENTS = (vec4: boolean, run: number, perChannel: string, body: string) => `
  let first = (${LINEAR_GROUP_INDEX} * ${WORKGROUP}u + lid) * ${run}u;
  if (first${vec4 ? ' * 4u' : ''} >= p.total) { return; }
  let c = (first${vec4 ? ' * 4u' : ''} / p.plane) % p.channels;
  ${perChannel}
  ${Array.from({ length: run }, (_, k) => `{
    let i = first + ${k}u;
    ${body}
  }`).join('\n  ')}`;

const zeroOf = (vec4: boolean) => (vec4 ? 'vec4f(0.0)' : '0.0');

/** The gradient reaching BatchNorm at index i: DY[i], or with `relu` only where the output Y[i] > 0. */
export const incomingGradient = (vec4: boolean, relu: boolean) => (relu ? `select(${zeroOf(vec4)}, DY[i], Y[i] > ${zeroOf(vec4)})` : 'DY[i]');

/** y = (x − mean[c])·invstd[c]·gamma[c] + beta[c] (then ReLU, keeping NaN, with `relu`). */
export function batchNormNormalizeKernel(vec4: boolean, relu = false, run = 1): KernelSpec {
  return NORMALIZE.spec(`${vec4 ? 'vec4' : 'scalar'}${relu ? '-relu' : ''}-run${run}`, () => {
    const value = vec4 ? 'vec4f' : 'f32';
    const normalized = '(X[i] - mean) * invstd * gamma + beta';
    return /* wgsl */ `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs: [['X', value], ['Mean', 'f32'], ['InvStd', 'f32'], ['Gamma', 'f32'], ['Beta', 'f32']], outputs: [['Y', value]] })}
${relu ? RELU_FNS : ''}

${entryPoint(WORKGROUP)} {${ELEMENTS(
      vec4,
      run,
      'let mean = Mean[c]; let invstd = InvStd[c]; let gamma = Gamma[c]; let beta = Beta[c];',
      `Y[i] = ${relu ? `${vec4 ? 'relu4' : 'relu'}(${normalized})` : normalized};`,
    )}
}`;
  });
}

/**
 * Training: dx = gamma·invstd·(dy − dbeta/M − x̂·dgamma/M) with M = N·H·W; bindings X, DY,
 * Mean, InvStd, Gamma, DGamma, DBeta, DX. Eval (running statistics are constants):
 * dx = gamma·invstd·dy; bindings DY, InvStd, Gamma, DX. With `relu`, Y follows.
 */
export function batchNormGradInputKernel(training: boolean, vec4: boolean, relu = false, run = 1): KernelSpec {
  return GRAD_INPUT.spec(`${training ? 'train' : 'eval'}-${vec4 ? 'vec4' : 'scalar'}${relu ? '-relu' : ''}-run${run}`, () => {
    const names = [...(training ? ['X', 'DY', 'Mean', 'InvStd', 'Gamma', 'DGamma', 'DBeta'] : ['DY', 'InvStd', 'Gamma']), ...(relu ? ['Y'] : [])];
    const value = vec4 ? 'vec4f' : 'f32';
    const inputs = names.map((name) => [name, ['X', 'DY', 'Y'].includes(name) ? value : 'f32'] as const);
    return /* wgsl */ `
${kernelHeader({ params: BATCHNORM_PARAMS, inputs, outputs: [['DX', value]] })}

${entryPoint(WORKGROUP)} {${ELEMENTS(
      vec4,
      run,
      `let invstd = InvStd[c];
  let scale = Gamma[c] * invstd;${training ? '\n  let m = f32(p.batch * p.plane);\n  let mean = Mean[c]; let dbeta = DBeta[c]; let dgamma = DGamma[c];' : ''}`,
      `let dy = ${incomingGradient(vec4, relu)};
    ${training ? `let xhat = (X[i] - mean) * invstd;\n    DX[i] = scale * (dy - dbeta / m - xhat * dgamma / m);` : 'DX[i] = scale * dy;'}`,
    )}
}`;
  });
}

/** Grid of the elementwise kernels over `total` values (vec4s of them with `vec4`), `run` elements or vec4s per invocation. */
export function batchNormElementGrid(total: number, vec4: boolean, run = 1): [number, number, number] {
  return grid(Math.ceil(total / (vec4 ? 4 : 1) / run / WORKGROUP));
}
