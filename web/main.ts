/**
 * The web page: load a checkpoint, segment photos at their own resolution, and train a small
 * UNet live — all on `navigator.gpu` with the same engine and models as the command line.
 * `window.petseg` holds the page's state for the console and the end-to-end test.
 */
import type { Module } from '../engine/nn/module.js';
import { init } from '../engine/runtime.js';
import { decodeCheckpoint, encodeCheckpoint, trainedImageSize, type CheckpointInfo } from '../models/checkpoint-format.js';
import type { RasterImage } from '../train/pixels.js';
import { segmentAtFullSize } from '../train/segment.js';
import { drawChart } from './chart.js';
import { notAModelFile } from './model-file.js';
import { trainOnSyntheticPets, type TrainDemoOptions } from './train-demo.js';

export interface PageState {
  /** The adapter in one line, once WebGPU is up. */
  adapter: string | null;
  /** Why there is no WebGPU, when there is none. */
  adapterError: string | null;
  checkpoint: { source: string; model: string; size: number } | null;
  segmentation: { source: string; width: number; height: number; milliseconds: number; petFraction: number; mask: Uint8Array } | null;
  training: { running: boolean; done: boolean; losses: number[]; dices: number[]; error: string | null };
  /** Settles when start-up is over (with or without WebGPU). */
  ready: Promise<void>;
}

declare global {
  interface Window {
    petseg: PageState;
  }
}

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  adapter: element<HTMLParagraphElement>('adapter'),
  checkpointFile: element<HTMLInputElement>('checkpoint-file'),
  checkpointBuiltin: element<HTMLButtonElement>('checkpoint-builtin'),
  checkpointStatus: element<HTMLSpanElement>('checkpoint-status'),
  drop: element<HTMLDivElement>('drop'),
  photoFile: element<HTMLInputElement>('photo-file'),
  segmentStatus: element<HTMLParagraphElement>('segment-status'),
  overlay: element<HTMLCanvasElement>('overlay'),
  trainStart: element<HTMLButtonElement>('train-start'),
  trainStop: element<HTMLButtonElement>('train-stop'),
  trainUse: element<HTMLButtonElement>('train-use'),
  trainSave: element<HTMLButtonElement>('train-save'),
  trainStatus: element<HTMLSpanElement>('train-status'),
  chart: element<HTMLCanvasElement>('chart'),
};

function show(target: HTMLElement, text: string, isError = false): void {
  target.textContent = text;
  target.classList.toggle('error', isError);
}

const state: PageState = {
  adapter: null,
  adapterError: null,
  checkpoint: null,
  segmentation: null,
  training: { running: false, done: false, losses: [], dices: [], error: null },
  ready: Promise.resolve(),
};
window.petseg = state;

let segmenter: { model: Module; info: CheckpointInfo; source: string } | null = null;
let lastPhoto: { image: RasterImage; source: string } | null = null;
let trained: { model: Module; info: CheckpointInfo } | null = null;
let stopRequested = false;

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

function paint(canvas: HTMLCanvasElement, image: RasterImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const pixels = new ImageData(image.width, image.height);
  for (let i = 0; i < image.width * image.height; i++) {
    pixels.data.set(image.data.subarray(i * 3, i * 3 + 3), i * 4);
    pixels.data[i * 4 + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(pixels, 0, 0);
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
  if (segmenter && segmenter.model !== trained?.model) segmenter.model.dispose();
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

function trainOptions(): TrainDemoOptions {
  const value = (id: string) => Number(element<HTMLInputElement>(id).value);
  return {
    size: value('train-size'),
    baseChannels: value('train-base'),
    images: value('train-images'),
    batchSize: value('train-batch'),
    epochs: value('train-epochs'),
    lr: value('train-lr'),
    seed: 0,
  };
}

async function runTraining(): Promise<void> {
  const t = state.training;
  Object.assign(t, { running: true, done: false, losses: [], dices: [], error: null });
  stopRequested = false;
  ui.trainStart.disabled = true;
  ui.trainStop.disabled = false;
  ui.trainUse.disabled = ui.trainSave.disabled = true;
  if (trained && segmenter?.model !== trained.model) trained.model.dispose();
  trained = null;
  drawChart(ui.chart, [], []);
  show(ui.trainStatus, 'Drawing synthetic pets and compiling kernels…');
  try {
    trained = await trainOnSyntheticPets(
      trainOptions(),
      (s) => {
        t.losses.push(s.loss);
        t.dices.push(s.dice);
        drawChart(ui.chart, t.losses, t.dices);
        show(ui.trainStatus, `epoch ${s.epoch}, step ${s.step}: loss ${s.loss.toFixed(4)}, Dice ${s.dice.toFixed(3)}, ${s.imagesPerSecond.toFixed(1)} images/s`);
      },
      () => stopRequested,
    );
    ui.trainUse.disabled = ui.trainSave.disabled = false;
    show(ui.trainStatus, `${stopRequested ? 'Stopped' : 'Done'} after ${t.losses.length} steps: loss ${t.losses.at(-1)?.toFixed(4)}, Dice ${t.dices.at(-1)?.toFixed(3)}.`);
  } catch (err) {
    t.error = (err as Error).message;
    show(ui.trainStatus, t.error, true);
  } finally {
    t.running = false;
    t.done = true;
    ui.trainStart.disabled = false;
    ui.trainStop.disabled = true;
  }
}

async function saveTrained(): Promise<void> {
  if (!trained) return;
  const bytes = await encodeCheckpoint(trained.model, trained.info);
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  link.download = 'petseg-web.safetensors';
  link.click();
  URL.revokeObjectURL(link.href);
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
  ui.trainStart.addEventListener('click', () => void runTraining());
  ui.trainStop.addEventListener('click', () => (stopRequested = true));
  ui.trainUse.addEventListener('click', async () => {
    if (!trained) return;
    useModel(trained.model, trained.info, 'the model trained in this page');
    await segmentLastPhoto();
  });
  ui.trainSave.addEventListener('click', () => void saveTrained());
}

async function start(): Promise<void> {
  const controls = document.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button');
  try {
    const runtime = await init();
    state.adapter = runtime.adapterName;
    show(ui.adapter, `WebGPU adapter: ${state.adapter}`);
    wire();
  } catch (err) {
    state.adapterError = (err as Error).message;
    show(ui.adapter, state.adapterError, true);
    controls.forEach((c) => (c.disabled = true));
  }
  drawChart(ui.chart, [], []);
}

state.ready = start();
