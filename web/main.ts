/**
 * The web page: load a checkpoint, segment photos at their own resolution, and train the lab's
 * models on Oxford-IIIT Pet with the same training loop as the command line (train-page.ts) —
 * all on `navigator.gpu` with the same engine and models. `window.petseg` holds the page's state
 * for the console and the end-to-end test.
 */
import { type Module, init } from '../engine/index.js';
import { decodeCheckpoint, trainedImageSize, type CheckpointInfo } from '../models/browser.js';
import { type RasterImage, segmentAtFullSize } from '../train/browser.js';
import { element, show } from './dom.js';
import { notAModelFile } from './model-file.js';
import { paint } from './paint.js';
import { type RunState } from './run-state.js';
import { TrainPage } from './train-page.js';

export interface PageState {
  /** The adapter in one line, once WebGPU is up. */
  adapter: string | null;
  /** Why there is no WebGPU, when there is none. */
  adapterError: string | null;
  checkpoint: { source: string; model: string; size: number } | null;
  segmentation: { source: string; width: number; height: number; milliseconds: number; petFraction: number; mask: Uint8Array } | null;
  /** The training section's run (train-page.ts), once WebGPU is up. */
  run: RunState | null;
  /** Settles when start-up is over (with or without WebGPU). */
  ready: Promise<void>;
}

declare global {
  interface Window {
    petseg: PageState;
  }
}

const ui = {
  adapter: element<HTMLParagraphElement>('adapter'),
  checkpointFile: element<HTMLInputElement>('checkpoint-file'),
  checkpointBuiltin: element<HTMLButtonElement>('checkpoint-builtin'),
  checkpointStatus: element<HTMLSpanElement>('checkpoint-status'),
  drop: element<HTMLDivElement>('drop'),
  photoFile: element<HTMLInputElement>('photo-file'),
  segmentStatus: element<HTMLParagraphElement>('segment-status'),
  overlay: element<HTMLCanvasElement>('overlay'),
};

const state: PageState = {
  adapter: null,
  adapterError: null,
  checkpoint: null,
  segmentation: null,
  run: null,
  ready: Promise.resolve(),
};
window.petseg = state;

let segmenter: { model: Module; info: CheckpointInfo; source: string } | null = null;
let lastPhoto: { image: RasterImage; source: string } | null = null;

/** Decode with the browser's own decoders (JPEG, PNG, GIF, WebP, …) to 8-bit RGB at full resolution. */
async function decodePhoto(file: Blob, source: string): Promise<RasterImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new Error(`${source}: this file could not be decoded as an image; choose a JPEG, PNG, GIF or WebP photo`);
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = new Uint8Array(canvas.width * canvas.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) rgb.set(rgba.subarray(j, j + 3), i);
  return { width: canvas.width, height: canvas.height, channels: 3, data: rgb };
}


async function segmentLastPhoto(): Promise<void> {
  if (!lastPhoto) return;
  if (!segmenter) {
    show(ui.segmentStatus, `${lastPhoto.source}: load a checkpoint first (choose a file, or train one below).`, true);
    return;
  }
  const photo = lastPhoto;
  const { image, source } = photo;
  const size = trainedImageSize(segmenter.info);
  show(ui.segmentStatus, `Segmenting ${source}…`);
  const started = performance.now();
  const { mask, overlay, petFraction } = await segmentAtFullSize(segmenter.model, image, size, 0.5);
  const milliseconds = performance.now() - started;
  // Another photo was chosen while this one ran: its result (or error) must not be overwritten.
  if (lastPhoto !== photo) return;
  paint(ui.overlay, overlay);
  state.segmentation = { source, width: image.width, height: image.height, milliseconds, petFraction, mask: mask.data };
  show(ui.segmentStatus, `${source}: ${image.width}×${image.height}, ${(100 * petFraction).toFixed(1)}% pet — inference ${milliseconds.toFixed(0)} ms on ${state.adapter}`);
}

function useModel(model: Module, info: CheckpointInfo, source: string): void {
  segmenter?.model.dispose();
  model.eval();
  segmenter = { model, info, source };
  const size = trainedImageSize(info);
  state.checkpoint = { source, model: info.model, size };
  show(ui.checkpointStatus, `${source}: ${info.model} ${JSON.stringify(info.options)}, input ${size}×${size}${info.epoch ? `, epoch ${info.epoch}` : ''}`);
}

async function loadCheckpointBytes(bytes: Uint8Array, source: string): Promise<void> {
  try {
    const { model, info } = decodeCheckpoint(bytes, source);
    useModel(model, info, source);
    await segmentLastPhoto();
  } catch (err) {
    show(ui.checkpointStatus, `${(err as Error).message.replace('--model', 'a model name')}`, true);
  }
}

async function loadBuiltinCheckpoint(): Promise<void> {
  const url = new URL('model.safetensors', document.baseURI);
  const response = await fetch(url).catch(() => null);
  const bytes = response?.ok ? new Uint8Array(await response.arrayBuffer()) : new Uint8Array(0);
  const problem = notAModelFile(url.pathname, response && { ok: response.ok, status: response.status, contentType: response.headers.get('content-type'), firstByte: bytes[0] });
  if (problem) {
    show(ui.checkpointStatus, problem, true);
    return;
  }
  await loadCheckpointBytes(bytes, 'model.safetensors');
}

async function takePhoto(file: File): Promise<void> {
  lastPhoto = null;
  try {
    lastPhoto = { image: await decodePhoto(file, file.name), source: file.name };
    await segmentLastPhoto();
  } catch (err) {
    show(ui.segmentStatus, (err as Error).message, true);
  }
}

function wire(): void {
  ui.checkpointFile.addEventListener('change', async () => {
    const file = ui.checkpointFile.files?.[0];
    if (file) await loadCheckpointBytes(new Uint8Array(await file.arrayBuffer()), file.name);
    ui.checkpointFile.value = '';
  });
  ui.checkpointBuiltin.addEventListener('click', () => void loadBuiltinCheckpoint());
  ui.photoFile.addEventListener('change', async () => {
    const file = ui.photoFile.files?.[0];
    if (file) await takePhoto(file);
    ui.photoFile.value = '';
  });
  ui.drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    ui.drop.classList.add('over');
  });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (event) => {
    event.preventDefault();
    ui.drop.classList.remove('over');
    const file = event.dataTransfer?.files[0];
    if (file) void takePhoto(file);
  });
}

async function start(): Promise<void> {
  const controls = document.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button');
  try {
    // The planner's kernel order, not timed choices: a browser keeps no autotune table, and a run
    // resumed after a reload must run the kernels it ran before to continue bit for bit.
    const runtime = await init({ autotune: false });
    state.adapter = runtime.adapterName;
    show(ui.adapter, `WebGPU adapter: ${state.adapter}`);
    wire();
    const page = new TrainPage({ useCheckpoint: (bytes, source) => loadCheckpointBytes(bytes, source) });
    state.run = page.state;
    await page.start();
  } catch (err) {
    state.adapterError = (err as Error).message;
    show(ui.adapter, state.adapterError, true);
    controls.forEach((c) => (c.disabled = true));
  }
}

state.ready = start();
