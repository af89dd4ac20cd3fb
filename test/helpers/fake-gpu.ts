/**
 * A stand-in adapter and device (init({ gpu })) that allocates nothing and runs nothing: it
 * records every dispatch's grid and every binding's size, so the work of a configuration far
 * larger than this machine's memory can be planned against a GPU's limits. Reads return zeros.
 */
import type { AdapterReport, GpuHandle } from '../../engine/index.js';

export interface FakeGpuLog {
  /** `kernel label`, grid of every dispatch. */
  dispatches: { kernel: string; grid: [number, number, number] }[];
  /** `kernel label`, byte size of every storage/uniform binding made. */
  bindings: { kernel: string; bytes: number }[];
  /** Largest buffer created. */
  largestBuffer: number;
}

/** An H100-like report: Dawn's Vulkan limits on NVIDIA (a 2 GiB − 4 B storage binding). */
export const GPU_REPORT: AdapterReport = {
  runtime: 'node (dawn)',
  backend: 'vulkan',
  vendor: 'nvidia',
  architecture: 'hopper',
  device: 'stand-in',
  description: 'NVIDIA H100 80GB HBM3 (stand-in: nothing runs)',
  isFallbackAdapter: false,
  features: ['shader-f16', 'subgroups', 'timestamp-query'],
  limits: {
    maxStorageBufferBindingSize: 2 ** 31 - 4,
    maxBufferSize: 2 ** 34,
    maxComputeWorkgroupStorageSize: 49152,
    maxComputeInvocationsPerWorkgroup: 1024,
    maxComputeWorkgroupSizeX: 1024,
    maxComputeWorkgroupSizeY: 1024,
    maxStorageBuffersPerShaderStage: 16,
    maxComputeWorkgroupsPerDimension: 65535,
  },
  subgroupMinSize: 32,
  subgroupMaxSize: 32,
  subgroupMatrixConfigs: [],
  dawnOptions: [],
};

export function fakeGpu(report: AdapterReport = GPU_REPORT): { handle: GpuHandle; log: FakeGpuLog } {
  const log: FakeGpuLog = { dispatches: [], bindings: [], largestBuffer: 0 };
  const buffer = (size: number) => {
    log.largestBuffer = Math.max(log.largestBuffer, size);
    return {
      size,
      destroy() {},
      unmap() {},
      mapAsync: async () => {},
      getMappedRange: (_offset = 0, length?: number) => new ArrayBuffer(length ?? size),
    };
  };
  let pipeline = '';
  const pass = {
    setPipeline(p: { label: string }) {
      pipeline = p.label;
    },
    setBindGroup() {},
    dispatchWorkgroups(x: number, y = 1, z = 1) {
      log.dispatches.push({ kernel: pipeline, grid: [x, y, z] });
    },
    end() {},
  };
  const device = {
    limits: report.limits,
    features: new Set(report.features),
    lost: new Promise(() => {}),
    addEventListener() {},
    destroy() {},
    createBuffer: ({ size }: { size: number }) => buffer(size),
    createShaderModule: () => ({}),
    createComputePipeline: ({ label }: { label: string }) => ({ label, getBindGroupLayout: () => ({ label }) }),
    createBindGroup: ({ layout, entries }: { layout: { label: string }; entries: { resource: { buffer: { size: number }; size?: number } }[] }) => {
      for (const e of entries) log.bindings.push({ kernel: layout.label, bytes: e.resource.size ?? e.resource.buffer.size });
      return {};
    },
    createQuerySet: () => ({ destroy() {} }),
    createCommandEncoder: () => ({
      beginComputePass: () => pass,
      copyBufferToBuffer() {},
      resolveQuerySet() {},
      finish: () => ({}),
    }),
    queue: { submit() {}, writeBuffer() {}, onSubmittedWorkDone: async () => {} },
  };
  const handle = { gpu: {}, adapter: {}, device, report } as unknown as GpuHandle;
  return { handle, log };
}
