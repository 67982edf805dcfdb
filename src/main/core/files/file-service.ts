// Files on this node: the blob store and the two tus endpoints over it (paired devices, signed; the desktop UI,
// admin), started and stopped as one service.
import type { Logger } from 'pino';
import type { BlobRepository, NewRecipient } from '../db/blob-repository.js';
import type { Service } from '../services/service.js';
import { BlobStore, type FileLimits } from './blob-store.js';
import { createTusUploads } from './tus-uploads.js';

export const DEVICE_FILES_PATH = '/api/files';
export const ADMIN_FILES_PATH = '/api/admin/files';

export interface FileServiceDeps {
  blobs: BlobRepository;
  dataDir: string;
  limits: FileLimits;
  log: Logger;
  planRecipients(to: string[]): NewRecipient[];
  freeBytes?: (dir: string) => number;
}

export class FileService implements Service {
  readonly name = 'files';
  readonly store: BlobStore;
  readonly deviceUploads;
  readonly adminUploads;

  constructor(d: FileServiceDeps) {
    this.store = new BlobStore({
      blobs: d.blobs,
      dataDir: d.dataDir,
      limits: d.limits,
      log: d.log,
      ...(d.freeBytes ? { freeBytes: d.freeBytes } : {}),
    });
    const deps = { store: this.store, planRecipients: d.planRecipients };
    this.deviceUploads = createTusUploads(DEVICE_FILES_PATH, deps);
    this.adminUploads = createTusUploads(ADMIN_FILES_PATH, deps);
  }

  async start(): Promise<void> {
    this.store.start();
  }

  async stop(): Promise<void> {
    this.store.stop();
  }
}
