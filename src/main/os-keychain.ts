// The OS keychain through Electron's safeStorage, in one shape for every Electron we may run on. Newer Electrons
// offer an async API (and say when a value should be re-encrypted, e.g. after a key rotation); the Electron this
// project pins (the last whose npm package installs on Node 20) only has the synchronous one. Prefer the async
// API when it exists so bumping Electron needs no code change here.
import { safeStorage } from 'electron';

export interface OsKeychain {
  isAvailable(): Promise<boolean>;
  encrypt(plainText: string): Promise<Buffer>;
  decrypt(encrypted: Buffer): Promise<{ result: string; shouldReEncrypt: boolean }>;
  /** Linux only: which secret store backs it ('basic_text' means a hard-coded password, no real keychain). */
  backend(): string;
}

interface AsyncSafeStorage {
  isAsyncEncryptionAvailable(): Promise<boolean>;
  encryptStringAsync(plainText: string): Promise<Buffer>;
  decryptStringAsync(encrypted: Buffer): Promise<{ result: string; shouldReEncrypt: boolean }>;
}

function asyncApi(): AsyncSafeStorage | undefined {
  const s = safeStorage as unknown as Partial<AsyncSafeStorage>;
  return typeof s.isAsyncEncryptionAvailable === 'function' &&
    typeof s.encryptStringAsync === 'function' &&
    typeof s.decryptStringAsync === 'function'
    ? (s as AsyncSafeStorage)
    : undefined;
}

export function osKeychain(): OsKeychain {
  const a = asyncApi();
  const backend = () => (process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : 'os');
  if (a) {
    return {
      isAvailable: () => a.isAsyncEncryptionAvailable(),
      encrypt: (plainText) => a.encryptStringAsync(plainText),
      decrypt: (encrypted) => a.decryptStringAsync(encrypted),
      backend,
    };
  }
  return {
    isAvailable: async () => safeStorage.isEncryptionAvailable(),
    encrypt: async (plainText) => safeStorage.encryptString(plainText),
    decrypt: async (encrypted) => ({ result: safeStorage.decryptString(encrypted), shouldReEncrypt: false }),
    backend,
  };
}
