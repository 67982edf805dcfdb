// SessionStore on IndexedDB: the browser's one durable store with real transactions (the phone page and the
// desktop UI, over plain http too), and Node through fake-indexeddb in tests. One database per device id, so two
// devices paired in one browser profile never share keys.
import type { PersonRecord } from '../people/person.js';
import type { OwnPrekeysState } from './own-prekeys.js';
import type { SessionRecordJson } from './session-record-json.js';
import {
  type GroupRecord,
  type InboxMessage,
  type OutboxEntry,
  type SessionStore,
  type StoreChange,
  stateChanged,
} from './session-store.js';

/**
 * 2 added the meta store (the revision that keeps two tabs of one device from forking a session), 3 groups,
 * 4 people (linked devices).
 */
const DB_VERSION = 4;
const PREKEYS = 'prekeys';
const SESSIONS = 'sessions';
const INBOX = 'inbox_messages';
const OUTBOX = 'outbox';
const META = 'meta';
const GROUPS = 'groups';
const PEOPLE = 'people';
const ALL = [PREKEYS, SESSIONS, INBOX, OUTBOX, META, GROUPS, PEOPLE];
/** The single key of the prekeys store. */
const OWN = 'own';
/** The meta store's key of the revision, bumped by every commit. */
const REVISION = 'revision';

export function sessionDbName(deviceId: string): string {
  return `salita-device-${deviceId}`;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class IndexedDbSessionStore implements SessionStore {
  private constructor(private readonly db: IDBDatabase) {}

  /** Opens (creating on first use) the device's database. `factory` defaults to the global indexedDB. */
  static async open(deviceId: string, factory: IDBFactory = globalThis.indexedDB): Promise<IndexedDbSessionStore> {
    const open = factory.open(sessionDbName(deviceId), DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(PREKEYS)) db.createObjectStore(PREKEYS);
      if (!db.objectStoreNames.contains(SESSIONS)) db.createObjectStore(SESSIONS, { keyPath: 'peer_device' });
      if (!db.objectStoreNames.contains(INBOX)) db.createObjectStore(INBOX, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META);
      if (!db.objectStoreNames.contains(GROUPS)) db.createObjectStore(GROUPS, { keyPath: 'group_id' });
      if (!db.objectStoreNames.contains(PEOPLE)) db.createObjectStore(PEOPLE, { keyPath: 'person_id' });
    };
    return new IndexedDbSessionStore(await req(open));
  }

  private async get<T>(store: string, key: string): Promise<T | undefined> {
    const tx = this.db.transaction(store, 'readonly');
    return (await req(tx.objectStore(store).get(key))) as T | undefined;
  }

  loadPrekeys(): Promise<OwnPrekeysState | undefined> {
    return this.get<OwnPrekeysState>(PREKEYS, OWN);
  }
  async loadRecord(peerDevice: string): Promise<SessionRecordJson | undefined> {
    const row = await this.get<{ peer_device: string; record: SessionRecordJson }>(SESSIONS, peerDevice);
    return row?.record;
  }
  inboxMessage(id: string): Promise<InboxMessage | undefined> {
    return this.get<InboxMessage>(INBOX, id);
  }
  async outbox(): Promise<OutboxEntry[]> {
    const tx = this.db.transaction(OUTBOX, 'readonly');
    return (await req(tx.objectStore(OUTBOX).getAll())) as OutboxEntry[];
  }
  loadGroup(groupId: string): Promise<GroupRecord | undefined> {
    return this.get<GroupRecord>(GROUPS, groupId);
  }
  async allGroups(): Promise<GroupRecord[]> {
    const tx = this.db.transaction(GROUPS, 'readonly');
    return (await req(tx.objectStore(GROUPS).getAll())) as GroupRecord[];
  }
  async allPeople(): Promise<PersonRecord[]> {
    const tx = this.db.transaction(PEOPLE, 'readonly');
    return (await req(tx.objectStore(PEOPLE).getAll())) as PersonRecord[];
  }
  async revision(): Promise<number> {
    return (await this.get<number>(META, REVISION)) ?? 0;
  }

  /**
   * One readwrite transaction over every store. Session state is written first and the messages after it, so
   * a failing message write (a duplicate id, a value that cannot be stored) aborts a transaction that already
   * holds the new session: IndexedDB then rolls back both. The revision is read and bumped inside the same
   * transaction, so two tabs cannot both commit on the state they read.
   */
  commit(change: StoreChange): Promise<void> {
    return new Promise((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = this.db.transaction(ALL, 'readwrite');
      } catch (err) {
        reject(err);
        return;
      }
      let failure: unknown;
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(failure ?? tx.error ?? new Error('session store transaction aborted'));
      // A failed request would abort the transaction anyway; keep its error as the reason.
      tx.onerror = (ev) => {
        failure ??= (ev.target as IDBRequest | null)?.error;
      };
      const meta = tx.objectStore(META);
      const read = meta.get(REVISION);
      read.onsuccess = () => {
        const rev = (read.result as number | undefined) ?? 0;
        try {
          if (change.ifRevision !== undefined && change.ifRevision !== rev) throw stateChanged();
          if (change.prekeys) tx.objectStore(PREKEYS).put(change.prekeys, OWN);
          for (const r of change.records ?? []) tx.objectStore(SESSIONS).put({ peer_device: r.peerDevice, record: r.record });
          for (const m of change.inbox ?? []) tx.objectStore(INBOX).add(m);
          for (const e of change.outbox ?? []) tx.objectStore(OUTBOX).add(e);
          for (const id of change.outboxDone ?? []) tx.objectStore(OUTBOX).delete(id);
          for (const g of change.groups ?? []) {
            if (g.removed) tx.objectStore(GROUPS).delete(g.record.group_id);
            else tx.objectStore(GROUPS).put(g.record);
          }
          for (const p of change.people ?? []) {
            if (p.removed) tx.objectStore(PEOPLE).delete(p.record.person_id);
            else tx.objectStore(PEOPLE).put(p.record);
          }
          meta.put(rev + 1, REVISION);
        } catch (err) {
          // put/add throw synchronously on a value that cannot be cloned: abort what was already written.
          failure = err;
          tx.abort();
        }
      };
    });
  }

  close(): void {
    this.db.close();
  }
}
