// The "Messages" section, the same on the phone page and in the desktop UI: the conversation list (with
// unread counts), the To list as the accessible way to pick, reach banners, the open conversation and the
// composer. What it shows comes from a MessagingSession; the page hands that session its pushes.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { groupIdOf, groupPeer, personIdOf, personPeer } from '../conversation.js';
import { FilePicker } from '../files/file-picker.js';
import type { TransferView } from '../files/file-transfers.js';
import { cloudHint, reachBanners } from '../reach-banners.js';
import { groupRecipients, type ListPlace } from '../recipient-groups.js';
import { Store, useStore } from '../store.js';
import { trustBlocksConversation } from '../trust/directory-identities.js';
import { useNow } from '../use-now.js';
import { ConversationList, type DeviceInfoOf } from './conversation-list.js';
import { countUnread, summarize } from './conversation-summaries.js';
import { GroupPanel, NewGroup } from './group-panel.js';
import { LinkOffers, LinkPanel } from './link-panel.js';
import { MessageComposer } from './message-composer.js';
import { firstLine } from './message-preview.js';
import { MessageThread } from './message-thread.js';
import { isContactPerson, type MessagingSession } from './messaging-session.js';
import { notifyIfAway } from './notifier.js';
import { NotifyButton } from './notify-button.js';
import { RecipientSelect } from './recipient-select.js';
import { SafetyBanners, SafetyPanel } from './safety-panel.js';

export interface MessagesProps {
  session: MessagingSession;
  /** The desktop UI names its own node "This desktop"; the phone page calls it by its name. */
  place: ListPlace;
  /** What a device reported when it paired (the desktop knows it for its phones): a finer icon. */
  deviceInfo?: DeviceInfoOf;
  /** Told the total of unread messages whenever it changes (the desktop puts it in the window title). */
  onUnreadTotal?: (n: number) => void;
}

/** A page that cannot carry files: nothing to show. */
const EMPTY_TRANSFERS = new Store<{ byKey: Readonly<Record<string, TransferView>> }>({ byKey: {} });

/** Files dragged from the desktop (not text or a link from another page). */
const carriesFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;

function noRecipientText(place: ListPlace, desktopName: string | undefined): string {
  if (place === 'desktop') return 'No device to write to yet: connect a phone, pair another desktop, or log this desktop in to a cloud.';
  return `No device to write to yet: pair another phone with ${desktopName ?? 'the desktop'}.`;
}

export function Messages({ session, place, deviceInfo, onUnreadTotal }: MessagesProps) {
  const dir = useStore(session.store, (s) => s.dir);
  const selected = useStore(session.store, (s) => s.selected);
  const version = useStore(session.store, (s) => s.version);
  const error = useStore(session.store, (s) => s.error);
  const nodeReachable = useStore(session.store, (s) => s.nodeReachable);
  const sending = useStore(session.store, (s) => s.sending);
  const now = useNow();
  const conv = session.conv;
  const transfers = session.files;
  const byKey = useStore(transfers?.store ?? EMPTY_TRANSFERS, (s) => s.byKey);
  const [dropping, setDropping] = useState(false);
  // Only the desktop takes files dropped on the conversation; the phone page picks them.
  const takesDrops = place === 'desktop' && transfers !== undefined;

  // `version` is how the kept conversations say they changed.
  const all = useMemo(() => conv.all(), [conv, version]);
  const groupStates = useStore(session.store, (s) => s.groups);
  const groupEntries = useMemo(
    () => groupStates.map((g) => ({ peer: groupPeer(g.group_id), name: g.name, members: g.members.length })),
    [groupStates],
  );
  const people = useStore(session.store, (s) => s.people);
  // Contacts with linked devices, and any whose conversation still holds messages (they unlinked since).
  const personEntries = useMemo(
    () =>
      people
        .filter((p) => isContactPerson(p) || (!p.own && all.some((m) => m.peer === personPeer(p.person_id))))
        .map((p) => ({ peer: personPeer(p.person_id), name: p.roster.name, devices: p.roster.devices.length })),
    [people, all],
  );
  const entries = useMemo(() => summarize(dir, all, groupEntries, personEntries), [dir, all, groupEntries, personEntries]);
  const openGroup = groupStates.find((g) => groupPeer(g.group_id) === selected);
  const groups = useMemo(() => (dir ? groupRecipients(dir, place) : []), [dir, place]);
  const unreadTotal = useMemo(() => countUnread(all), [all]);
  const nameOf = (id: string) =>
    dir?.devices.find((d) => d.device_id === id)?.name ??
    groupEntries.find((g) => g.peer === id)?.name ??
    personEntries.find((p) => p.peer === id)?.name ??
    id;

  useEffect(() => onUnreadTotal?.(unreadTotal), [unreadTotal, onUnreadTotal]);

  // The open conversation becomes read once the page is in front again.
  useEffect(() => {
    const seen = () => session.markSeen();
    document.addEventListener('visibilitychange', seen);
    window.addEventListener('focus', seen);
    return () => {
      document.removeEventListener('visibilitychange', seen);
      window.removeEventListener('focus', seen);
    };
  }, [session]);

  useEffect(
    () =>
      session.arrived.on((m) => {
        const name = session.store.get().dir?.devices.find((d) => d.device_id === m.from_device)?.name ?? 'A device';
        const body = !m.ok ? 'A message that could not be decrypted' : m.file ? `File: ${firstLine(m.text)}` : firstLine(m.text);
        notifyIfAway({ title: name, body });
      }),
    [session],
  );

  // A file dropped beside the conversation would make the window open it, leaving the page: never.
  useEffect(() => {
    if (!takesDrops) return;
    const keep = (e: DragEvent) => {
      if (carriesFiles(e)) e.preventDefault();
    };
    window.addEventListener('dragover', keep);
    window.addEventListener('drop', keep);
    return () => {
      window.removeEventListener('dragover', keep);
      window.removeEventListener('drop', keep);
    };
  }, [takesDrops]);

  const banners = reachBanners({ dir, selected, nodeReachable, place });
  const messages = selected ? all.filter((m) => m.peer === selected) : [];
  const selfName = dir?.nodes.find((n) => n.self)?.name;
  const trust = session.trust;
  // `version` is also how the trust book says it changed.
  const blocked = useMemo(
    () => (selected ? trustBlocksConversation(trust, dir, selected, session.membersOf(selected)) : false),
    [trust, dir, selected, version, groupStates, people],
  );
  const me = useMemo(() => session.client.identity(), [session]);
  const onTrust = () => session.trustChanged();
  const pending = useMemo(
    () => Object.values(byKey).filter((v) => v.dir === 'up' && v.peer === selected && v.messageId === undefined),
    [byKey, selected],
  );
  const dropHandlers = takesDrops
    ? {
        onDragEnter: (e: DragEvent) => {
          if (carriesFiles(e) && selected) setDropping(true);
        },
        onDragOver: (e: DragEvent) => {
          if (!carriesFiles(e)) return;
          e.preventDefault();
          if (e.dataTransfer) e.dataTransfer.dropEffect = selected ? 'copy' : 'none';
        },
        onDragLeave: (e: DragEvent) => {
          // Leaving for a child of the pane is not leaving the pane.
          if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node | null)) setDropping(false);
        },
        onDrop: (e: DragEvent) => {
          setDropping(false);
          if (!carriesFiles(e) && !e.dataTransfer?.files.length) return;
          e.preventDefault();
          const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
          void session.sendFiles(files);
        },
      }
    : {};

  return (
    <>
      <div class="card-head">
        <h2>
          Messages
          {unreadTotal > 0 ? (
            <span class="badge unread" data-testid="messages-unread-total" data-count={unreadTotal}>
              {unreadTotal}
              <span class="sr-only"> unread</span>
            </span>
          ) : null}
        </h2>
        <span class="actions">
          {dir ? <NewGroup dir={dir} onCreate={(name, ids) => session.createGroup(name, ids)} /> : null}
          <NotifyButton />
        </span>
      </div>
      <p class="hint">End-to-end encrypted: only the devices you write to can read a message.</p>
      <p class="hint" data-testid="messages-cloud" data-cloud={dir?.cloud.status}>
        {dir ? cloudHint(dir) : ''}
      </p>
      <div class="messages-layout">
        <ConversationList entries={entries} selected={selected} now={now} deviceInfo={deviceInfo} onOpen={(p) => session.select(p)} />
        <div
          class={`stack conversation-pane${dropping ? ' dropping' : ''}`}
          data-testid="conversation-pane"
          data-dropping={dropping ? 'true' : undefined}
          {...dropHandlers}
        >
          <LinkOffers people={people} nameOf={nameOf} onAnswer={(id, accept) => session.answerLinkOffer(id, accept)} />
          <RecipientSelect
            groups={groups}
            chats={groupEntries}
            people={personEntries}
            selected={selected}
            conv={conv}
            onChoose={(p) => session.select(p)}
          />
          {dir && openGroup ? (
            <GroupPanel
              dir={dir}
              group={openGroup}
              nameOf={nameOf}
              onChange={(name, ids) => session.changeGroup(openGroup.group_id, name, ids)}
            />
          ) : null}
          {selected ? (
            <LinkPanel
              peer={selected}
              me={me.device_id}
              people={people}
              nameOf={nameOf}
              canLink={
                groupIdOf(selected) === undefined &&
                personIdOf(selected) === undefined &&
                !!dir?.devices.some((d) => d.device_id === selected)
              }
              onOffer={(name) => session.offerLink(selected, name)}
              onUnlink={() => session.unlink(selected)}
            />
          ) : null}
          <div class="message-banners" data-testid="messages-banners" role="status" aria-live="polite">
            {banners.map((b) => (
              <p key={b.kind} class="banner notice" data-testid="messages-banner" data-kind={b.kind}>
                {b.text}
              </p>
            ))}
          </div>
          {dir && selected ? <SafetyBanners dir={dir} trust={trust} peer={selected} nameOf={nameOf} onChange={onTrust} /> : null}
          {dir && selected ? <SafetyPanel dir={dir} me={me} trust={trust} peer={selected} nameOf={nameOf} onChange={onTrust} /> : null}
          {dropping && selected ? (
            <p class="drop-hint" data-testid="drop-hint">
              Drop to send to {nameOf(selected)}
            </p>
          ) : null}
          <MessageThread messages={messages} nameOf={nameOf} now={now} files={{ transfers, byKey, pending, nodeReachable }} />
          {messages.length === 0 && pending.length === 0 ? (
            <p class="empty" data-testid="messages-empty">
              {selected ? `No messages with ${nameOf(selected)} yet.` : noRecipientText(place, selfName)}
            </p>
          ) : null}
          <MessageComposer disabled={!selected || sending || blocked} onSend={(t) => session.send(t)} />
          {transfers ? (
            <FilePicker
              disabled={!selected || blocked || groupIdOf(selected) !== undefined || personIdOf(selected) !== undefined}
              camera={place === 'phone'}
              onFiles={(files) => void session.sendFiles(files)}
            />
          ) : null}
          {error ? (
            <p class="field-error" role="alert" data-testid="messages-error">
              {error}
            </p>
          ) : null}
        </div>
      </div>
    </>
  );
}
