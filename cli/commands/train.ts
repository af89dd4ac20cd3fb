/**
 * `node cli/train.js` — for now an engine smoke run: a two-layer perceptron learns a synthetic
 * two-class problem on the GPU (tape autograd, SGD with momentum written from engine ops), and the
 * loss is printed falling. The segmentation trainer (UNet / ResNet34_UNet on Oxford-IIIT Pet)
 * replaces this once the models and data pipeline exist.
 */
import * as E from '../../engine/index.js';
import { parseCommandArgs, type OptionSpec } from './args.js';

const OPTIONS: Record<string, OptionSpec> = {
  seed: { type: 'integer', default: 0, help: 'random seed (data and weights)' },
  epochs: { type: 'integer', default: 30, min: 1, help: 'passes over the data' },
  lr: { type: 'number', default: 0.1, min: 0, help: 'learning rate' },
  batch_size: { type: 'integer', default: 64, min: 1, help: 'examples per step' },
  hidden: { type: 'integer', default: 32, min: 1, help: 'hidden units' },
};

const FEATURES = 6;
const EXAMPLES = 512;

/** Points in the cube; class 1 inside a ball: not linearly separable, easy for one hidden layer. */
function makeData(seed: number): { x: Float32Array; y: Float32Array } {
  const gen = new E.Generator(seed);
  const x = gen.fillUniform(new Float32Array(EXAMPLES * FEATURES), -1, 1);
  const y = new Float32Array(EXAMPLES);
  for (let i = 0; i < EXAMPLES; i++) {
    let r2 = 0;
    for (let j = 0; j < FEATURES; j++) r2 += x[i * FEATURES + j] ** 2;
    y[i] = r2 < 1.6 ? 1 : 0;
  }
  return { x, y };
}

export async function main(argv: string[]): Promise<number> {
  const args = parseCommandArgs('train', 'Engine smoke run: fits a small perceptron on synthetic data and prints the loss.', argv, OPTIONS);
  if (typeof args === 'number') return args;
  const seed = args.seed as number;
  const epochs = args.epochs as number;
  const lr = args.lr as number;
  const batch = Math.min(args.batch_size as number, EXAMPLES);
  const hidden = args.hidden as number;

  let runtime;
  try {
    runtime = await E.init();
  } catch (err) {
    if (err instanceof E.NoWebGPUAdapterError) {
      console.error(`train: ${err.message}`);
      return 1;
    }
    throw err;
  }
  console.log(`petseg engine smoke run on ${runtime.adapterName}`);
  console.log('(the segmentation trainer replaces this run once the models and data pipeline land)');

  const { x, y } = makeData(seed);
  const positives = y.reduce((s, v) => s + v, 0);
  console.log(`data: ${EXAMPLES} points in ${FEATURES}-D, ${positives} inside the ball; model: ${FEATURES}→${hidden}→1, SGD momentum 0.9, lr ${lr}`);

  const params = [
    E.randn([FEATURES, hidden], { seed: seed + 1, std: Math.sqrt(2 / FEATURES), requiresGrad: true }),
    E.zeros([hidden], { requiresGrad: true }),
    E.randn([hidden, 1], { seed: seed + 2, std: Math.sqrt(1 / hidden), requiresGrad: true }),
    E.zeros([1], { requiresGrad: true }),
  ];
  const velocity = params.map((p) => E.zeros(p.shape));
  const batches = Math.ceil(EXAMPLES / batch);
  const xs = Array.from({ length: batches }, (_, b) => {
    const rows = Math.min(batch, EXAMPLES - b * batch);
    return {
      x: E.tensor(x.subarray(b * batch * FEATURES, (b * batch + rows) * FEATURES), [rows, FEATURES]),
      y: E.tensor(y.subarray(b * batch, b * batch + rows), [rows, 1]),
    };
  });

  let firstLoss = NaN;
  let lastLoss = NaN;
  const started = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let lossSum = 0;
    let correct = 0;
    for (const b of xs) {
      const [w1, b1, w2, b2] = params;
      const { loss, p } = E.tidy(() => {
        const prob = b.x.matmul(w1).add(b1).relu().matmul(w2).add(b2).sigmoid();
        // Binary cross-entropy: -(y log p + (1 - y) log(1 - p)), clamped away from log(0).
        const bce = b.y.mul(prob.add(1e-7).log()).add(E.rsub(b.y, 1).mul(E.rsub(prob, 1 + 1e-7).log())).mean().neg();
        return { loss: bce, p: prob.detach() };
      });
      loss.backward();
      E.noGrad(() =>
        E.tidy(() => {
          params.forEach((param, i) => {
            velocity[i].assign(velocity[i].mul(0.9).add(param.grad!));
            param.assign(param.sub(velocity[i].mul(lr)));
            param.zeroGrad();
          });
        }),
      );
      lossSum += (await loss.item()) * b.x.shape[0];
      const probs = await p.toArray();
      const labels = await b.y.toArray();
      probs.forEach((v, i) => (correct += (v > 0.5 ? 1 : 0) === labels[i] ? 1 : 0));
      loss.dispose();
      p.dispose();
    }
    const epochLoss = lossSum / EXAMPLES;
    if (epoch === 1) firstLoss = epochLoss;
    lastLoss = epochLoss;
    const stats = E.memoryStats();
    console.log(
      `epoch ${String(epoch).padStart(3)}  loss ${epochLoss.toFixed(4)}  accuracy ${((100 * correct) / EXAMPLES).toFixed(1)}%  ` +
        `gpu live ${(stats.liveBytes / 1024).toFixed(0)} KiB`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`loss ${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)} in ${epochs} epochs (${seconds.toFixed(1)} s, ${(epochs * batches / seconds).toFixed(1)} steps/s)`);
  E.shutdown();
  return lastLoss < firstLoss ? 0 : 1;
}
