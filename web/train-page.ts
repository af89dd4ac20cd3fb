/**
 * The page's training section: the real training loop (train/loop.ts) on Oxford-IIIT Pet or the
 * built-in synthetic set, each run a folder in the Origin Private File System (`runs/<name>/`,
 * the same files as a run folder on disk), locked with Web Locks while it trains, so a run
 * survives a reload and resumes exactly. `window.petseg.run` (RunState) shows it to the console
 * and the end-to-end test.
 */
import { memoryStats, getRuntime } from '../engine/index.js';
import { decodeCheckpoint, type SegmentationModel } from '../models/browser.js';
import { loadSplitCached, evaluateSamples, trainRun, defaultRunName, type RasterImage, epochMetrics, type EpochMetrics, type EpochRecord, RUN_FILES, openRun, readCommittedRun, type RunManifest, OptionError, checkSettings, labArgs, type RunSettings, type Folder } from '../train/browser.js';
import { drawCurves } from './chart.js';
import { element, show } from './dom.js';
import { archiveDataset, datasetFiles, droppedFiles, pickedDataset, restoredDataset, syntheticDataset, type PageDataset } from './dataset-files.js';
import { OpfsFolder, opfsRoot } from './opfs-folder.js';
import { paint } from './paint.js';
import { lockRun, type RunFile, type RunState } from './run-state.js';

export interface TrainPageHooks {
  /** Segment photos with this checkpoint (the run's best). */
  useCheckpoint(bytes: Uint8Array, source: string): Promise<void>;
}

/** An option field as the page names it: the form's field (the CLI's name), or what stands for it. */
const PAGE_NAMES: Record<string, string> = { dataPath: 'the dataset', saveDir: 'a new run', resume: 'Resume' };
const fieldName = (field: string) => PAGE_NAMES[field] ?? field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export class TrainPage {
  readonly state: RunState;
  private root!: OpfsFolder;
  private dataset: PageDataset | null = null;
  private controller: AbortController | null = null;
  private runFolder: Folder | null = null;
  /** The settings of the run last started here (state.options holds them by the CLI's names). */
  private runSettings: RunSettings | null = null;
  private resumable: { name: string; manifest: RunManifest } | null = null;
  private readonly ui = {
    form: element<HTMLFormElement>('train-form'),
    folder: element<HTMLInputElement>('dataset-folder'),
    archives: element<HTMLInputElement>('dataset-archives'),
    synthetic: element<HTMLButtonElement>('dataset-synthetic'),
    datasetStatus: element<HTMLSpanElement>('dataset-status'),
    drop: element<HTMLDivElement>('dataset-drop'),
    start: element<HTMLButtonElement>('train-start'),
    stop: element<HTMLButtonElement>('train-stop'),
    resume: element<HTMLButtonElement>('train-resume'),
    evaluate: element<HTMLButtonElement>('train-evaluate'),
    use: element<HTMLButtonElement>('train-use'),
    status: element<HTMLSpanElement>('train-status'),
    chart: element<HTMLCanvasElement>('chart'),
    grid: element<HTMLCanvasElement>('valid-grid'),
    downloads: { 'best.safetensors': element<HTMLAnchorElement>('download-best'), 'last.safetensors': element<HTMLAnchorElement>('download-last'), 'metrics.jsonl': element<HTMLAnchorElement>('download-metrics') },
  };

  constructor(private readonly hooks: TrainPageHooks) {
    this.state = {
      options: null,
      state: 'idle',
      message: '',
      records: [],
      memory: [],
      run: null,
      dataset: null,
      warnings: [],
      evaluation: null,
      download: (file) => this.read(file),
    };
    drawCurves(this.ui.chart, []);
  }

  /** Wire the controls, and offer to resume the latest unfinished run kept in this browser. */
  async start(): Promise<void> {
    try {
      this.root = new OpfsFolder(await opfsRoot(), '');
    } catch (err) {
      this.fail((err as Error).message);
      return;
    }
    if (!getRuntime().caps.f16) (this.ui.form.elements.namedItem('precision') as HTMLSelectElement).options[1].disabled = true;
    this.ui.folder.addEventListener('change', () => {
      const files = [...(this.ui.folder.files ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
      void this.takeFolder(files, files[0]?.path.split('/')[0] ?? 'the picked folder');
      this.ui.folder.value = '';
    });
    this.ui.archives.addEventListener('change', () => {
      void this.takeArchives([...(this.ui.archives.files ?? [])]);
      this.ui.archives.value = '';
    });
    this.ui.synthetic.addEventListener('click', () => void this.takeDataset(() => syntheticDataset(this.datasets), 'Writing the synthetic set…'));
    this.ui.drop.addEventListener('dragover', (event) => {
      event.preventDefault();
      this.ui.drop.classList.add('over');
    });
    this.ui.drop.addEventListener('dragleave', () => this.ui.drop.classList.remove('over'));
    this.ui.drop.addEventListener('drop', (event) => {
      event.preventDefault();
      this.ui.drop.classList.remove('over');
      const items = event.dataTransfer?.items;
      if (!items) return;
      const archives = [...(event.dataTransfer?.files ?? [])].filter((f) => f.name.endsWith('.tar.gz'));
      if (archives.length) void this.takeArchives(archives);
      else void droppedFiles(items).then((files) => this.takeFolder(files, files[0]?.path.split('/')[0] ?? 'the dropped folder'), (err: Error) => this.fail(err.message));
    });
    this.ui.start.addEventListener('click', () => void this.train(null));
    this.ui.resume.addEventListener('click', () => void this.resume());
    this.ui.stop.addEventListener('click', () => this.controller?.abort());
    this.ui.evaluate.addEventListener('click', () => void this.evaluate());
    this.ui.use.addEventListener('click', () => void this.useBest());
    for (const [file, link] of Object.entries(this.ui.downloads) as [RunFile, HTMLAnchorElement][]) {
      link.addEventListener('click', (event) => {
        event.preventDefault();
        void this.save(file);
      });
    }
    await this.findResumable();
  }

  private get datasets(): Folder {
    return this.root.folder('datasets');
  }

  private fail(message: string): void {
    Object.assign(this.state, { state: 'failed', message });
    show(this.ui.status, message, true);
  }

  private say(message: string): void {
    this.state.message = message;
    show(this.ui.status, message);
  }

  private async takeDataset(open: () => Promise<PageDataset>, busy: string): Promise<void> {
    show(this.ui.datasetStatus, busy);
    try {
      this.dataset = await open();
      this.state.dataset = this.dataset.name;
      show(this.ui.datasetStatus, `${this.dataset.name}: ${this.dataset.images} images listed`);
      this.ui.start.disabled = false;
    } catch (err) {
      show(this.ui.datasetStatus, (err as Error).message, true);
    }
  }

  private takeFolder(files: { path: string; file: File }[], name: string): Promise<void> {
    return this.takeDataset(async () => pickedDataset(this.datasets, name, datasetFiles(files, name)), `Reading ${name}…`);
  }

  private takeArchives(archives: File[]): Promise<void> {
    const progress = (done: number, total: number) => show(this.ui.datasetStatus, `Unpacking the archives: ${((100 * done) / total).toFixed(0)}%`);
    return this.takeDataset(() => archiveDataset(this.datasets, archives, progress), 'Unpacking the archives…');
  }

  /** The form's settings, or an error naming the field as the form does. */
  private formSettings(): RunSettings {
    const field = (name: string) => this.ui.form.elements.namedItem(name) as HTMLInputElement;
    const number = (name: string) => Number(field(name).value);
    const model = field('model').value as RunSettings['model'];
    const settings: RunSettings = {
      model,
      modelOptions: model === 'UNet' ? { baseChannels: number('base_channels') } : {},
      seed: number('seed'),
      epochs: number('epochs'),
      lr: number('lr'),
      weightDecay: number('weight_decay'),
      batchSize: number('batch_size'),
      imgSize: number('img_size'),
      augment: field('augment').checked,
      maskThreshold: number('mask_threshold'),
      precision: field('precision').value as RunSettings['precision'],
      freezeEncoderEpochs: 0,
    };
    checkSettings(settings);
    return settings;
  }

  /** Fill the form from a run's settings (a resumed run's): its fields are named as labArgs names them. */
  private fillForm(s: RunSettings): void {
    const set = (name: string, value: unknown) => {
      const field = this.ui.form.elements.namedItem(name) as HTMLInputElement | null;
      if (!field || value === undefined) return;
      if (field.type === 'checkbox') field.checked = Boolean(value);
      else field.value = String(value);
    };
    for (const [name, value] of Object.entries(labArgs(s, ''))) set(name, value);
  }

  /** The newest run kept here that has not reached its epochs: offered to resume. */
  private async findResumable(): Promise<void> {
    const runs = this.root.folder('runs');
    const names = ((await runs.list('')) ?? []).filter((e) => e.kind === 'folder').map((e) => e.name).sort().reverse();
    for (const name of names) {
      const manifest = await readCommittedRun(runs.folder(name)).catch(() => null);
      if (!manifest?.settings || manifest.epoch >= manifest.settings.epochs) continue;
      this.resumable = { name, manifest };
      this.fillForm(manifest.settings);
      this.ui.resume.disabled = false;
      Object.assign(this.state, { state: 'stopped', run: name });
      this.say(`The run ${name} stopped after epoch ${manifest.epoch} of ${manifest.settings.epochs}; Resume continues it exactly.`);
      return;
    }
  }

  private async resume(): Promise<void> {
    const r = this.resumable;
    if (!r?.manifest.settings) return;
    const id = r.manifest.data?.path.replace(/^opfs:\/datasets\//, '') ?? '';
    const dataset = (this.dataset?.id === id ? this.dataset : null) ?? (await restoredDataset(this.datasets, id));
    if (!dataset) {
      this.fail(`the run ${r.name} trained on a dataset this page no longer has (${r.manifest.data?.path ?? 'unknown'}); pick it again, then Resume`);
      return;
    }
    this.dataset = dataset;
    this.state.dataset = dataset.name;
    await this.train({ name: r.name, settings: r.manifest.settings });
  }

  /** Train a new run (resumed: the run's folder name and settings). */
  private async train(resumed: { name: string; settings: RunSettings } | null): Promise<void> {
    let settings: RunSettings;
    try {
      settings = resumed?.settings ?? this.formSettings();
    } catch (err) {
      this.fail(err instanceof OptionError ? err.render(fieldName) : (err as Error).message);
      return;
    }
    const dataset = this.dataset;
    if (!dataset) {
      this.fail('choose a dataset first: pick the Oxford-IIIT Pet folder, drop its archives, or use the synthetic set');
      return;
    }
    const name = resumed?.name ?? defaultRunName(settings.model);
    const dataLabel = `opfs:/datasets/${dataset.id}`;
    this.runSettings = settings;
    this.state.options = labArgs(settings, dataLabel);
    const runs = this.root.folder('runs');
    const folder = runs.folder(name);
    this.runFolder = folder;
    Object.assign(this.state, { state: 'decoding', run: name, records: [], memory: [], evaluation: null });
    this.setBusy(true);
    this.say(resumed ? `Resuming ${name}…` : `Starting ${name}: reading ${dataset.name}…`);
    let release = () => {};
    this.controller = new AbortController();
    try {
      release = await lockRun(name);
      const opened = await openRun(folder, folder.folder('tensorboard'));
      if (opened.manifest) this.state.records = await this.committedRecords();
      drawCurves(this.ui.chart, this.state.records);
      const result = await trainRun(settings, {
        run: opened,
        data: dataset.data,
        dataLabel,
        cache: this.root.folder(`cache/decoded/${dataset.id}`),
        events: folder.folder('tensorboard'),
        writer: { host: 'browser', pid: Math.floor(Math.random() * 1e9) },
        out: { write: (text: string) => (this.progress(text), true), isTTY: false },
        warn: (line) => {
          this.state.warnings.push(line);
          this.say(line);
        },
        decoding: (split, done, total) => this.say(`Decoding the ${split} split: ${done} of ${total} images (once: the decoded images are kept in this browser)`),
        onStart: () => {
          this.state.state = 'training';
          this.say(`Training ${name} on ${getRuntime().adapterName}…`);
        },
        onEpoch: (record, grid) => this.epochDone(record, grid),
        signal: this.controller.signal,
      });
      result.model.dispose();
      this.resumable = null;
      this.ui.resume.disabled = true;
      const best = `best valid loss ${result.best.validLoss.toFixed(4)}, Dice ${result.best.validDice.toFixed(4)} at epoch ${result.best.epoch}`;
      if (result.stopped) {
        this.resumable = { name, manifest: (await readCommittedRun(folder))! };
        this.ui.resume.disabled = this.resumable.manifest === null;
        this.state.state = 'stopped';
        this.say(`Stopped ${name} after epoch ${this.state.records.at(-1)?.epoch ?? 0}; ${best}. Resume continues it.`);
      } else {
        this.state.state = 'done';
        this.say(`Done: ${name}, ${best}.`);
      }
    } catch (err) {
      this.fail(err instanceof OptionError ? err.render(fieldName) : (err as Error).message);
    } finally {
      release();
      this.controller = null;
      this.setBusy(false);
    }
  }

  private setBusy(busy: boolean): void {
    this.ui.synthetic.disabled = busy;
    this.ui.start.disabled = busy || this.dataset === null;
    this.ui.stop.disabled = !busy;
    if (busy) this.ui.resume.disabled = true;
    const ready = !busy && this.state.records.length > 0;
    this.ui.evaluate.disabled = this.ui.use.disabled = !ready;
    for (const link of Object.values(this.ui.downloads)) link.classList.toggle('disabled', !ready);
  }

  /** The progress bar's last line (the loop writes plain lines when not on a terminal). */
  private progress(text: string): void {
    const line = text.trim().split('\n').pop();
    if (line && this.state.state === 'training') this.say(line);
  }

  private epochDone(record: EpochRecord, grid: RasterImage | null): void {
    this.state.records.push(epochMetrics(record));
    this.state.memory.push(memoryStats().liveBytes);
    drawCurves(this.ui.chart, this.state.records);
    if (grid) paint(this.ui.grid, grid);
  }

  private async committedRecords(): Promise<EpochMetrics[]> {
    const text = await this.runFolder?.read(RUN_FILES.metrics);
    return text ? new TextDecoder().decode(text).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpochMetrics) : [];
  }

  private async read(file: RunFile): Promise<Uint8Array | null> {
    return this.runFolder ? this.runFolder.read(file) : null;
  }

  private async save(file: RunFile): Promise<void> {
    const bytes = await this.read(file);
    if (!bytes) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    link.download = file;
    link.click();
    URL.revokeObjectURL(link.href);
  }

  /** The best checkpoint's model, in eval mode. */
  private async bestModel(): Promise<SegmentationModel | null> {
    const bytes = await this.read(RUN_FILES.best);
    if (!bytes) return null;
    const { model } = decodeCheckpoint(bytes, `${this.state.run}/${RUN_FILES.best}`);
    model.eval();
    return model;
  }

  private async evaluate(): Promise<void> {
    const dataset = this.dataset;
    const best = await this.bestModel();
    const settings = this.runSettings;
    if (!dataset || !best || !settings) {
      best?.dispose();
      return;
    }
    this.setBusy(true);
    try {
      const { imgSize: size, maskThreshold: threshold, batchSize } = settings;
      const progress = (done: number, total: number) => this.say(`Decoding the test split: ${done} of ${total} images`);
      const { samples } = await loadSplitCached(dataset.data, 'test', size, this.root.folder(`cache/decoded/${dataset.id}`), { warn: (l) => this.say(l), progress });
      const result = await evaluateSamples(best, samples, { batchSize, size, threshold });
      this.state.evaluation = { images: result.images, dice: result.dice, iou: result.iou, loss: result.loss };
      this.say(`Test split: ${result.images} images, Dice ${result.dice.toFixed(4)}, IoU ${result.iou.toFixed(4)}, BCE ${result.loss.toFixed(4)} (best checkpoint of ${this.state.run})`);
    } catch (err) {
      this.fail((err as Error).message);
    } finally {
      best.dispose();
      this.setBusy(false);
    }
  }

  private async useBest(): Promise<void> {
    const bytes = await this.read(RUN_FILES.best);
    if (bytes) await this.hooks.useCheckpoint(bytes, `${this.state.run}/${RUN_FILES.best}`);
  }
}
