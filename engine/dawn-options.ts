/**
 * Dawn's options for Node's `webgpu` package, in Dawn's own syntax: space-separated `key=value`
 * tokens, e.g. `enable-dawn-features=a,b disable-dawn-features=c backend=vulkan`. petseg's
 * defaults come first, then init()'s `dawn` option, then $PETSEG_DAWN; a later source wins, toggle
 * by toggle (enabling a toggle a default disabled turns it on). The browser takes no options.
 */

/**
 * What petseg needs from Dawn on every adapter:
 * - `vulkan_enable_f16_on_nvidia`: Dawn hides `shader-f16` on NVIDIA's Vulkan driver (before
 *   615.71) unless asked, and mixed precision needs it;
 * - no `timestamp_quantization`: Dawn rounds timestamps to 65.536 µs by default, as long as many
 *   of the kernels the autotuner and the profiler time.
 */
export const DAWN_DEFAULTS = 'enable-dawn-features=vulkan_enable_f16_on_nvidia disable-dawn-features=timestamp_quantization';

const TOGGLE_KEYS = { 'enable-dawn-features': true, 'disable-dawn-features': false } as const;

/** A Dawn option string that does not parse; the message names where it came from. */
export class DawnOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DawnOptionsError';
  }
}

/**
 * The tokens to pass to Dawn's `create()`: the sources merged in order (undefined ones skipped),
 * each named in `labels` for error messages.
 */
function mergeDawnOptions(sources: readonly { label: string; value: string | undefined }[]): string[] {
  const toggles = new Map<string, boolean>();
  const others = new Map<string, string>();
  for (const { label, value } of sources) {
    for (const token of (value ?? '').split(/\s+/).filter(Boolean)) {
      const at = token.indexOf('=');
      if (at <= 0) throw new DawnOptionsError(`${label}: '${token}' is not a Dawn option; write key=value, e.g. 'enable-dawn-features=allow_unsafe_apis'`);
      const key = token.slice(0, at);
      const rest = token.slice(at + 1);
      if (key in TOGGLE_KEYS) {
        const names = rest.split(',').filter(Boolean);
        if (names.length === 0) throw new DawnOptionsError(`${label}: '${token}' names no toggle`);
        for (const name of names) {
          toggles.delete(name); // re-inserted last: the later source's order
          toggles.set(name, TOGGLE_KEYS[key as keyof typeof TOGGLE_KEYS]);
        }
      } else {
        others.set(key, rest);
      }
    }
  }
  const list = (enabled: boolean) => [...toggles].filter(([, on]) => on === enabled).map(([name]) => name);
  const out: string[] = [];
  if (list(true).length) out.push(`enable-dawn-features=${list(true).join(',')}`);
  if (list(false).length) out.push(`disable-dawn-features=${list(false).join(',')}`);
  for (const [key, value] of others) out.push(`${key}=${value}`);
  return out;
}

/** petseg's defaults, then `option` (init's `dawn`), then $PETSEG_DAWN. */
export function dawnOptions(option: string | undefined, environment: string | undefined): string[] {
  return mergeDawnOptions([
    { label: 'petseg defaults', value: DAWN_DEFAULTS },
    { label: "init()'s dawn option", value: option },
    { label: '$PETSEG_DAWN', value: environment },
  ]);
}
