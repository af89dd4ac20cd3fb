/**
 * The page's own model.safetensors, fetched from next to the page: why a response is not one.
 * A missing file does not always answer 404 — a dev server or a static host with a single-page
 * fallback answers with the page itself (HTML, 200), whose first bytes read as a safetensors
 * header length would be nonsense — so the response's type and first byte are checked too.
 */

/** Where a checkpoint goes so the page finds it, for messages. */
const MODEL_PLACE = 'web/public/model.safetensors before `npm run web` or `npm run build:web`, or next to the built index.html';

/** Why `response` is not the model file at `path` (its URL path), or null when it may be one. */
export function notAModelFile(path: string, response: { ok: boolean; status: number; contentType: string | null; firstByte: number | undefined } | null): string | null {
  const missing = `No model.safetensors next to this page (${path}): put a checkpoint (e.g. saved_models/<run>/best.safetensors) at ${MODEL_PLACE}, or choose a file.`;
  if (response === null) return `${missing} (the request failed)`;
  if (!response.ok) return `${missing} (HTTP ${response.status})`;
  // A safetensors file starts with its header length, a little-endian u64: never '<' of an HTML page.
  if (/^text\/html/i.test(response.contentType ?? '') || response.firstByte === 0x3c) return `${missing} (the server answered with a web page)`;
  if (response.firstByte === undefined) return `${missing} (the file is empty)`;
  return null;
}
