/// <reference types="@webgpu/types" preserve="true" />
/**
 * One way to get a WebGPU adapter and device, in Node (Dawn's `webgpu` package) and in the
 * browser (`navigator.gpu`), with a report of what was found and a clear error when nothing was.
 */
import { dawnOptions } from './dawn-options.js';

/**
 * What {@link requestGpu} found: the adapter's identity (GPUAdapterInfo), the device's enabled
 * features and limits, and the runtime and Dawn options it was requested with.
 */
export interface AdapterReport {
  /** `node (dawn)` or `browser`. */
  runtime: 'node (dawn)' | 'browser';
  /** The graphics API underneath, as far as it can be known (Dawn uses Vulkan on Linux). */
  backend: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters such as lavapipe or SwiftShader. */
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
  /** Smallest and largest subgroup size (0 when the adapter does not say). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** Matrix shapes of Dawn's experimental subgroup-matrix feature the adapter reports (tensor cores); empty where none. */
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  /** The Dawn options the instance was created with (Node), e.g. `enable-dawn-features=…`; empty in the browser. */
  dawnOptions: string[];
}

/** One subgroup-matrix configuration: an M×K by K×N product of `componentType` accumulated in `resultComponentType`. */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/**
 * An acquired WebGPU device with its instance, adapter and report: what {@link requestGpu}
 * returns, and what init()'s `gpu` option takes instead of requesting one.
 */
export interface GpuHandle {
  /** The GPU instance. Keep it referenced: Dawn's instance must outlive its devices (it is GC'd otherwise). */
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
}

/**
 * Options of {@link requestGpu}: the adapter's power preference (default `high-performance`) and,
 * in Node, Dawn's options.
 */
export interface RequestGpuOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * Dawn options for Node in Dawn's syntax (engine/dawn-options.ts), e.g.
   * `'enable-dawn-features=allow_unsafe_apis backend=vulkan'`, applied after petseg's defaults and
   * before $PETSEG_DAWN. Ignored in the browser.
   */
  dawn?: string;
}

/** No WebGPU adapter could be had; the message says what to install or enable. */
export class NoWebGPUAdapterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoWebGPUAdapterError';
  }
}

const LINUX_HINT =
  'On Debian/Ubuntu without a GPU, install a CPU Vulkan driver that Dawn accepts: Mesa lavapipe 24+ ' +
  '(Debian bookworm: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`, after adding the ' +
  'bookworm-backports suite), or run `bash scripts/setup.sh`, which does this. Bookworm\'s own Mesa 22.3 is too old ' +
  'for Dawn. SwiftShader also works: set VK_ICD_FILENAMES to its vk_swiftshader_icd.json.';

/** Limits worth raising to the adapter's maximum: large activations and many bindings per kernel. */
export const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * Features enabled when the adapter has them: subgroups (CPU adapters share one load among a
 * subgroup's lanes, kernels/conv/subgroup.ts), timestamps (the autotuner's GPU timing), f16.
 */
const OPTIONAL_FEATURES = ['subgroups', 'timestamp-query', 'shader-f16'];

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

function nodeBackendName(): string {
  switch (process.platform) {
    case 'linux':
      return 'vulkan';
    case 'darwin':
      return 'metal';
    case 'win32':
      return 'd3d12';
    default:
      return 'unknown';
  }
}

/** A module name hidden from browser bundlers (they would try to bundle a literal Node-only import). */
function nodeOnly(name: string): string {
  return name;
}

async function nodeGpu(options: string[]): Promise<GPU> {
  // Mesa's Vulkan loader warns on every start without it.
  if (!process.env.XDG_RUNTIME_DIR) {
    const { tmpdir } = (await import(/* @vite-ignore */ nodeOnly('node:os'))) as typeof import('node:os');
    const { mkdirSync } = (await import(/* @vite-ignore */ nodeOnly('node:fs'))) as typeof import('node:fs');
    const dir = `${tmpdir()}/petseg-xdg-${process.getuid?.() ?? 0}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  let dawn: { create(options: string[]): GPU; globals: Record<string, unknown> };
  try {
    dawn = (await import(/* @vite-ignore */ nodeOnly('webgpu'))) as typeof dawn;
  } catch (err) {
    throw new NoWebGPUAdapterError(
      `The 'webgpu' package (Dawn for Node) could not be loaded: ${(err as Error).message}. ` +
        'Run `npm ci` (or `bash scripts/setup.sh`) in the project folder.',
    );
  }
  // Dawn's classes (GPUBufferUsage, ...) must be global for code written against the browser API.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  return dawn.create(options);
}

/** Acquire an adapter and a device with raised limits, or throw NoWebGPUAdapterError. */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<GpuHandle> {
  const browserGpu = typeof navigator !== 'undefined' ? (navigator as Navigator).gpu : undefined;
  let gpu: GPU;
  let runtime: AdapterReport['runtime'];
  let applied: string[] = [];
  if (browserGpu) {
    gpu = browserGpu;
    runtime = 'browser';
  } else if (isNode()) {
    applied = dawnOptions(options.dawn, process.env.PETSEG_DAWN);
    gpu = await nodeGpu(applied);
    runtime = 'node (dawn)';
  } else {
    throw new NoWebGPUAdapterError(
      'This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Firefox, ' +
        'or start Chromium with --enable-unsafe-webgpu.',
    );
  }

  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    const where =
      runtime === 'browser'
        ? 'The browser exposes navigator.gpu but gave no adapter: WebGPU may be disabled or blocklisted for this GPU ' +
          '(try chrome://gpu, or --enable-unsafe-webgpu).'
        : process.platform === 'linux'
          ? `Dawn found no Vulkan device. ${LINUX_HINT}`
          : 'Dawn found no usable GPU driver on this machine.';
    throw new NoWebGPUAdapterError(`No WebGPU adapter. ${where}`);
  }

  const requiredLimits: Record<string, number> = {};
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  for (const name of RAISED_LIMITS) {
    if (typeof adapterLimits[name] === 'number') requiredLimits[name] = adapterLimits[name];
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((name) => adapter.features.has(name)) as GPUFeatureName[];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });

  const info = adapter.info;
  const limits: Record<string, number> = {};
  const deviceLimits = device.limits as unknown as Record<string, number>;
  for (const name in deviceLimits) {
    if (typeof deviceLimits[name] === 'number') limits[name] = deviceLimits[name];
  }
  const report: AdapterReport = {
    runtime,
    backend: runtime === 'browser' ? 'browser-managed' : nodeBackendName(),
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...device.features].map(String).sort(),
    limits,
    subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
    subgroupMaxSize: (info as { subgroupMaxSize?: number }).subgroupMaxSize ?? 0,
    subgroupMatrixConfigs: [...((info as { subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfig> }).subgroupMatrixConfigs ?? [])].map((c) => ({
      componentType: String(c.componentType),
      resultComponentType: String(c.resultComponentType),
      M: c.M,
      N: c.N,
      K: c.K,
    })),
    dawnOptions: applied,
  };
  return { gpu, adapter, device, report };
}

/** One line naming the adapter, e.g. for logs. */
export function describeAdapter(report: AdapterReport): string {
  // Browsers often leave description empty (Chromium: vendor "google", architecture "swiftshader").
  const name = report.description || [report.vendor, report.architecture, report.device].filter(Boolean).join(' ') || 'unknown adapter';
  return `${name} [${report.runtime}, ${report.backend}${report.isFallbackAdapter ? ', software' : ''}]`;
}
