import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import * as E from '../engine/index.js';
import { dawnOptions } from '../engine/dawn-options.js';
import { requestGpu, NoWebGPUAdapterError } from '../engine/device.js';
import { grid } from '../kernels/kernel.js';
import { useGpu } from './helpers/gpu.js';

useGpu();

const BUILT_DEVICE = new URL('../dist/engine/device.js', import.meta.url).pathname;

describe('device and runtime', () => {
  test('reports the adapter: name, backend, features, limits', () => {
    const report = E.getRuntime().adapterReport;
    expect(report.runtime).toBe('node (dawn)');
    expect(report.backend).toBe('vulkan');
    expect(report.description.length).toBeGreaterThan(0);
    expect(report.limits.maxComputeWorkgroupSizeX).toBeGreaterThanOrEqual(256);
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(Array.isArray(report.features)).toBe(true);
    expect(E.describeAdapter(report)).toContain(report.description);
  });

  test('pipelines are compiled once per kernel and specialization', () => {
    const x = E.ones([5]);
    x.exp().dispose();
    const before = E.memoryStats().pipelines;
    x.exp().dispose();
    E.ones([1001]).exp().dispose(); // same kernel, other size: parameters only (sizes not a multiple of 4: the scalar kernel)
    expect(E.memoryStats().pipelines).toBe(before);
    x.log().dispose();
    expect(E.memoryStats().pipelines).toBe(before + 1);
  });

  test('dispatches are batched: one submit for a chain of ops read back once', async () => {
    E.flush();
    const before = E.memoryStats();
    const y = E.tidy(() => {
      let h = E.ones([64]);
      for (let i = 0; i < 50; i++) h = h.mul(1.01).add(0.001);
      return h;
    });
    await y.toArray();
    const after = E.memoryStats();
    expect(after.dispatches - before.dispatches).toBeGreaterThanOrEqual(101);
    expect(after.submits - before.submits).toBe(1);
  });

  test('an upload into a recycled buffer does not overtake queued work that read it', async () => {
    const a = E.tensor([1, 2, 3, 4]);
    const doubled = a.mul(2); // queued, not yet submitted
    a.dispose(); // a's buffer goes back to the pool...
    const b = E.tensor([100, 200, 300, 400]); // ...and is reused for this upload
    expect(Array.from(await doubled.toArray())).toEqual([2, 4, 6, 8]);
    expect(Array.from(await b.toArray())).toEqual([100, 200, 300, 400]);
  });

  test('grid splits large workgroup counts into two dimensions', () => {
    expect(grid(1)).toEqual([1, 1, 1]);
    expect(grid(65535)).toEqual([65535, 1, 1]);
    const [x, y] = grid(200_000);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
  });
});

describe('no adapter', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  afterEach(() => {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete (globalThis as { navigator?: unknown }).navigator;
  });

  test('a browser without an adapter gets a clear NoWebGPUAdapterError', async () => {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: { requestAdapter: async () => null } }, configurable: true });
    const err = await requestGpu().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoWebGPUAdapterError);
    expect((err as Error).message).toMatch(/No WebGPU adapter.*enable-unsafe-webgpu/s);
  });

  // Runs the built engine (npm test builds first) in a child process whose Vulkan loader finds no driver.
  test.skipIf(!existsSync(BUILT_DEVICE))('a Vulkan-less Linux machine is told what to install', () => {
    const code = `import { requestGpu } from ${JSON.stringify(BUILT_DEVICE)};
      requestGpu().then(() => console.log('ADAPTER'), (e) => console.log(e.name + ': ' + e.message));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(out).toMatch(/NoWebGPUAdapterError: No WebGPU adapter\. Dawn found no Vulkan device\..*mesa-vulkan-drivers/s);
  });
});

describe('Dawn options and the adapter report', () => {
  test("petseg's defaults, then init()'s option, then $PETSEG_DAWN: a later source wins toggle by toggle", () => {
    expect(dawnOptions(undefined, undefined)).toEqual(['enable-dawn-features=vulkan_enable_f16_on_nvidia', 'disable-dawn-features=timestamp_quantization']);
    expect(dawnOptions('enable-dawn-features=allow_unsafe_apis,timestamp_quantization backend=vulkan', 'disable-dawn-features=allow_unsafe_apis')).toEqual([
      'enable-dawn-features=vulkan_enable_f16_on_nvidia,timestamp_quantization',
      'disable-dawn-features=allow_unsafe_apis',
      'backend=vulkan',
    ]);
    expect(() => dawnOptions('allow_unsafe_apis', undefined)).toThrow(/^init\(\)'s dawn option: 'allow_unsafe_apis' is not a Dawn option; write key=value/);
    expect(() => dawnOptions(undefined, 'enable-dawn-features=')).toThrow(/^\$PETSEG_DAWN: 'enable-dawn-features=' names no toggle$/);
    expect(() => E.capsFromEnvironment('cpu')).toThrow(/PETSEG_CAPS must be 'gpu' or empty, got 'cpu'/);
    expect(E.capsFromEnvironment('gpu')).toEqual({ software: false, compilerBudget: 'large' });
  });

  test('the runtime opens with the options in force and reports them', () => {
    expect(E.getRuntime().adapterReport.dawnOptions).toEqual(dawnOptions(undefined, process.env.PETSEG_DAWN));
    const info = E.describeRuntime(E.getRuntime());
    expect(info.limits.maxStorageBufferBindingSize).toBe(E.getRuntime().adapterReport.limits.maxStorageBufferBindingSize);
    expect(info.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    expect(Array.isArray(info.subgroupMatrixConfigs)).toBe(true);
    expect(E.formatRuntimeInfo(info)).toMatch(/^adapter +\S.*\nidentity .*\nbackend +vulkan \(node \(dawn\)\)\nfeatures .*\nsubgroups .*\nsubgroup matrices .*\nDawn options +enable-dawn-features=vulkan_enable_f16_on_nvidia/);
  });

  test('`petseg info` prints the report; PETSEG_DAWN reaches Dawn; a bad PETSEG_DAWN is one line', () => {
    const run = (env: Record<string, string>, ...args: string[]) =>
      execFileSync(process.execPath, ['bin/petseg.js', 'info', ...args], { cwd: new URL('..', import.meta.url).pathname, env: { ...process.env, ...env }, encoding: 'utf8' });
    const info = JSON.parse(run({ PETSEG_DAWN: 'enable-dawn-features=allow_unsafe_apis' }, '--json')) as E.RuntimeInfo;
    expect(info.dawnOptions).toContain('enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis');
    expect(info.adapter).toBe(E.getRuntime().adapterName);
    expect(run({}, '--help')).toMatch(/^usage: petseg info/);
    let failure: { status: number; stderr: string } | null = null;
    try {
      run({ PETSEG_DAWN: 'nonsense' });
    } catch (err) {
      failure = err as { status: number; stderr: string };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stderr.trim()).toBe("info: $PETSEG_DAWN: 'nonsense' is not a Dawn option; write key=value, e.g. 'enable-dawn-features=allow_unsafe_apis'");
  });
});
