// The small preview a sender makes of an image before sending it: drawn on a canvas at most 160 px a side and
// encoded as WebP (JPEG where the browser cannot write WebP), smaller and smaller until it fits the manifest's
// MAX_THUMB_BYTES. It travels encrypted in the manifest, so the recipient sees what it is before downloading.
// Best effort: an image the browser cannot decode (HEIC in Chromium, say) is sent without one.
import type { FileThumb } from '../../../../shared/e2ee/file-manifest.js';
import { MAX_THUMB_BYTES } from '../../../../shared/e2ee/file-manifest.js';
import { toBase64Url } from '../../../../shared/encoding.js';

const SIDES = [160, 112, 72];
const QUALITIES = [0.8, 0.6, 0.4];
const TYPES = ['image/webp', 'image/jpeg'] as const;
/** Images above this are not decoded just for a preview (a phone's memory). */
const MAX_SOURCE_BYTES = 50 * 1024 * 1024;

interface Decoded {
  source: CanvasImageSource;
  width: number;
  height: number;
  close(): void;
}

async function decode(file: Blob): Promise<Decoded> {
  if (typeof createImageBitmap === 'function') {
    const bitmap = await createImageBitmap(file);
    return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
  }
  // Older Safari: through an <img> (the page's CSP allows blob: images).
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch (err) {
    URL.revokeObjectURL(url);
    throw err;
  }
  return { source: img, width: img.naturalWidth, height: img.naturalHeight, close: () => URL.revokeObjectURL(url) };
}

const toBlob = (canvas: HTMLCanvasElement, type: string, quality: number) =>
  new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, type, quality));

/** Raster images a browser decodes itself (no SVG: a picture that is also a document). */
export function isRasterImage(type: string): boolean {
  return /^image\/(png|jpeg|gif|webp|bmp|avif)$/.test(type);
}

/** A thumbnail of the image in `file`, or undefined when none can be made. Never throws. */
export async function makeThumbnail(file: Blob): Promise<FileThumb | undefined> {
  if (!isRasterImage(file.type) || file.size > MAX_SOURCE_BYTES) return undefined;
  let img: Decoded | undefined;
  try {
    img = await decode(file);
    if (img.width < 1 || img.height < 1) return undefined;
    for (const side of SIDES) {
      const scale = Math.min(1, side / Math.max(img.width, img.height));
      const w = Math.max(1, Math.round(img.width * scale));
      const h = Math.max(1, Math.round(img.height * scale));
      const canvas = document.createElement('canvas');
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext('2d');
      if (!ctx) return undefined;
      ctx.drawImage(img.source, 0, 0, w, h);
      for (const type of TYPES) {
        for (const q of QUALITIES) {
          const blob = await toBlob(canvas, type, q);
          // A browser that cannot write this type hands back a PNG: try the next type.
          if (!blob || blob.type !== type) break;
          if (blob.size <= MAX_THUMB_BYTES) return { type, w, h, data: toBase64Url(new Uint8Array(await blob.arrayBuffer())) };
        }
      }
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    img?.close();
  }
}

/** The thumbnail as an <img> source (the page's CSP allows data: images). */
export function thumbnailUrl(thumb: FileThumb): string {
  const b64 = thumb.data.replace(/-/g, '+').replace(/_/g, '/');
  return `data:${thumb.type};base64,${b64}${'='.repeat((4 - (b64.length % 4)) % 4)}`;
}
