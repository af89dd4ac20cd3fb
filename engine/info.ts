/**
 * What the runtime's adapter is and can do, as one value and as text (`petseg info`, `petseg
 * gpu-check`): identity and backend, features, the limits petseg relies on, subgroup-matrix
 * configurations, the Dawn options in force, the capabilities the kernel planner sees and the
 * autotuner's table.
 */
import type { AdapterCaps } from './caps.js';
import { RAISED_LIMITS, type AdapterReport, type SubgroupMatrixConfig } from './device.js';
import type { Runtime } from './runtime.js';

/** Limits petseg reads: those it raises to the adapter's maximum, and the grid size it launches within. */
const USED_LIMITS = [...RAISED_LIMITS, 'maxComputeWorkgroupsPerDimension'];

/**
 * What a runtime's adapter is and can do, as one value: identity and backend, features, the limits
 * petseg reads, subgroups, Dawn options, the planner's caps and the autotuner's table.
 */
export interface RuntimeInfo {
  adapter: string;
  runtime: AdapterReport['runtime'];
  backend: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  subgroupSizes: [number, number];
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
  dawnOptions: string[];
  caps: AdapterCaps;
  autotune: { enabled: boolean; table: string | null; choices: number; budgetSeconds: number };
}

/** What `runtime`'s adapter is and can do ({@link RuntimeInfo}). */
export function describeRuntime(runtime: Runtime): RuntimeInfo {
  const r = runtime.adapterReport;
  return {
    adapter: runtime.adapterName,
    runtime: r.runtime,
    backend: r.backend,
    vendor: r.vendor,
    architecture: r.architecture,
    device: r.device,
    description: r.description,
    features: r.features,
    limits: Object.fromEntries(USED_LIMITS.filter((name) => name in r.limits).map((name) => [name, r.limits[name]])),
    subgroupSizes: [r.subgroupMinSize, r.subgroupMaxSize],
    subgroupMatrixConfigs: r.subgroupMatrixConfigs,
    dawnOptions: r.dawnOptions,
    caps: runtime.caps,
    autotune: { enabled: runtime.tuner.enabled, table: runtime.tuner.storePath, choices: runtime.tuner.choices.size, budgetSeconds: runtime.tuner.budgetSeconds },
  };
}

/** `info` as aligned label-value lines of text, as `petseg info` prints it. */
export function formatRuntimeInfo(info: RuntimeInfo): string {
  const configs = info.subgroupMatrixConfigs.map((c) => `${c.M}×${c.N}×${c.K} ${c.componentType}→${c.resultComponentType}`);
  const rows: [string, string][] = [
    ['adapter', info.adapter],
    ['identity', `vendor '${info.vendor}', architecture '${info.architecture}', device '${info.device}'`],
    ['backend', `${info.backend} (${info.runtime})`],
    ['features', info.features.join(', ') || 'none'],
    ['subgroups', info.subgroupSizes[0] ? `${info.subgroupSizes[0]}–${info.subgroupSizes[1]} lanes` : 'size not reported'],
    ['subgroup matrices', configs.length ? configs.join(', ') : 'none reported'],
    ['Dawn options', info.dawnOptions.join(' ') || 'none'],
    ['planner caps', Object.entries(info.caps).map(([k, v]) => `${k} ${String(v)}`).join(', ')],
    ['autotune', info.autotune.enabled ? `on, ${info.autotune.choices} tuned shapes in ${info.autotune.table ?? 'memory'}, budget ${info.autotune.budgetSeconds} s per run` : 'off (PETSEG_AUTOTUNE=0)'],
    ...Object.entries(info.limits).map(([name, value]): [string, string] => [name, String(value)]),
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => label.padEnd(width) + value).join('\n');
}
