// A file as a message carries it: the blob, key and digest FileUpload gave, with the name, type and thumbnail the
// sender chose, made into the manifest its recipients open; and back from an opened manifest, what downloadFile
// needs. Names and types a device offers (a browser File's) are made to fit the manifest's rules here, so a
// picked file with an odd name is still sent rather than refused at sealing.
import { FileManifest, type FileThumb, MAX_FILE_NAME_CHARS, MimeType } from '../e2ee/file-manifest.js';
import { fromBase64Url, toBase64Url } from '../encoding.js';
import type { DownloadOptions, SentFile } from './file-client.js';

export const UNKNOWN_FILE_TYPE = 'application/octet-stream';

/** The name as the manifest allows it: no path, no control characters, at most 255 characters (extension kept). */
export function fileNameOf(raw: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  let name = raw.replace(/[/\\\u0000-\u001f\u007f]/g, '_').trim();
  if (name === '' || name === '.' || name === '..') name = 'file';
  if (name.length <= MAX_FILE_NAME_CHARS) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  return name.slice(0, MAX_FILE_NAME_CHARS - ext.length) + ext;
}

/** The type as the manifest allows it (a bare MIME type), else "application/octet-stream". */
export function fileTypeOf(raw: string | undefined): string {
  const t = (raw ?? '').split(';')[0]!.trim().toLowerCase();
  return MimeType.safeParse(t).success ? t : UNKNOWN_FILE_TYPE;
}

export function fileManifest(sent: SentFile, about: { name: string; type?: string; thumb?: FileThumb }): FileManifest {
  return FileManifest.parse({
    t: 'file',
    v: 1,
    blob: sent.blobId,
    name: fileNameOf(about.name),
    type: fileTypeOf(about.type),
    size: sent.size,
    chunk: sent.chunk,
    key: toBase64Url(sent.contentKey),
    sha256: toBase64Url(sent.sha256),
    ...(about.thumb ? { thumb: about.thumb } : {}),
  });
}

/** What a download of the file in `m` needs besides where and how (base URL, path, auth, sink). */
export function downloadKeys(m: FileManifest): Pick<DownloadOptions, 'blobId' | 'size' | 'chunk' | 'contentKey' | 'sha256'> {
  return { blobId: m.blob, size: m.size, chunk: m.chunk, contentKey: fromBase64Url(m.key), sha256: fromBase64Url(m.sha256) };
}
