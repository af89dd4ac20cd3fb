// Prints the WebGPU adapter petseg will use; exits 3 with the reason when there is none.
import { existsSync } from 'node:fs';

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
