// Prints the WebGPU adapter petseg will use; exits 3 with the reason when there is none. Dawn's
// adapter warnings are filtered as the commands filter them (cli/dawn-filter.js).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runInFilteredChild } from '../cli/dawn-filter.js';

if (await runInFilteredChild(fileURLToPath(import.meta.url), process.argv.slice(2))) process.exit();
const device = new URL('../dist/engine/device.js', import.meta.url);
if (!existsSync(device)) {
  console.error('petseg is not built yet: run `bash scripts/setup.sh` (or `npm run build`).');
  process.exit(1);
}
const { requestGpu, describeAdapter } = await import(device.href);
try {
  const { device: gpuDevice, report } = await requestGpu();
  console.log(`[setup] WebGPU adapter: ${describeAdapter(report)}`);
  gpuDevice.destroy();
} catch (err) {
  console.log(`[setup] ${err.message}`);
  process.exit(3);
}
