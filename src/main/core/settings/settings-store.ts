// The person's node settings (advertised interfaces, listen mode, cloud URL), kept in `<data dir>/settings.json` (written atomically). A missing file means the
// defaults; a file that is not valid JSON or not valid settings stops the node at start-up with an error that
// names the file, rather than silently replacing what the person chose.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeSettings, type SettingsUpdateRequest } from '../../../shared/wire/schemas.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const SETTINGS_FILE = 'settings.json';

export const DEFAULT_SETTINGS: NodeSettings = { interfaces: null, listen: 'all' };

export class SettingsFileError extends Error {
  constructor(
    public readonly path: string,
    reason: string,
  ) {
    super(`The settings file ${path} is corrupt (${reason}). Fix it, or delete it to go back to the defaults.`);
    this.name = 'SettingsFileError';
  }
}

export function settingsPath(dataDir: string): string {
  return join(dataDir, SETTINGS_FILE);
}

export function loadSettings(dataDir: string): NodeSettings {
  const path = settingsPath(dataDir);
  if (!existsSync(path)) return { ...DEFAULT_SETTINGS };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SettingsFileError(path, `not valid JSON: ${(err as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SettingsFileError(path, 'not a JSON object');
  // Older or newer files may lack a key: fill in the defaults, but never accept a wrong type.
  const parsed = NodeSettings.safeParse({ ...DEFAULT_SETTINGS, ...raw });
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new SettingsFileError(path, first ? `${first.path.join('.') || 'settings'}: ${first.message}` : 'invalid');
  }
  return parsed.data;
}

/** Keeps the settings in memory and on disk. */
export class SettingsStore {
  private current: NodeSettings;
  private readonly listeners = new Set<(saved: NodeSettings, update: SettingsUpdateRequest) => void>();

  constructor(private readonly dataDir: string) {
    this.current = loadSettings(dataDir);
  }

  get(): NodeSettings {
    return {
      interfaces: this.current.interfaces === null ? null : [...this.current.interfaces],
      listen: this.current.listen,
      // Absent until a cloud is set, so older clients (and files) see exactly the two fields they know.
      ...(this.current.cloud_url ? { cloud_url: this.current.cloud_url } : {}),
    };
  }

  /** The cloud this node links to (null: none). */
  cloudUrl(): string | null {
    return this.current.cloud_url ?? null;
  }

  interfaces(): readonly string[] | null {
    return this.current.interfaces;
  }

  listen(): NodeSettings['listen'] {
    return this.current.listen;
  }

  set(update: SettingsUpdateRequest): NodeSettings {
    const next = { ...this.current, ...update };
    const clean: NodeSettings = {
      interfaces: next.interfaces === null ? null : [...new Set(next.interfaces)],
      listen: next.listen,
      ...(next.cloud_url ? { cloud_url: next.cloud_url.replace(/\/+$/, '') } : {}),
    };
    writeFileAtomic(settingsPath(this.dataDir), `${JSON.stringify(clean, null, 2)}\n`, 0o600);
    this.current = clean;
    return this.get();
  }

  /**
   * A change the person made: saved, then told to the subscribers, which apply it at once. (`set` alone is for a
   * service saving what it decided itself, e.g. the cloud link keeping its URL; it needs no telling.)
   */
  update(update: SettingsUpdateRequest): NodeSettings {
    const saved = this.set(update);
    for (const fn of [...this.listeners]) fn(saved, update);
    return saved;
  }

  /** Called after each change by `update` with the new settings and the fields the change named. */
  onChange(fn: (saved: NodeSettings, update: SettingsUpdateRequest) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
