// When a message cannot go right now, say so before it is written, in words: this page has lost its node, or
// the chosen recipient's desktop is offline (then the message waits for it, or goes through the cloud when
// the directory says that is its route now). No DOM, so the rules can be tested in Node.
import type { MessagingDirectory } from '../../../shared/wire/relay.js';
import { type ListPlace, nodeOfDevice } from './recipient-groups.js';

export type BannerKind = 'node-offline' | 'recipient-offline' | 'cloud-away';
export interface ReachBanner {
  kind: BannerKind;
  text: string;
}

export interface ReachInput {
  /** The directory as last loaded (undefined before the first answer). */
  dir: MessagingDirectory | undefined;
  /** The device the message would go to. */
  selected: string | undefined;
  /** The page's link to its own node (event socket up, last request answered). */
  nodeReachable: boolean;
  place: ListPlace;
}

export function reachBanners({ dir, selected, nodeReachable, place }: ReachInput): ReachBanner[] {
  const out: ReachBanner[] = [];
  const self = dir?.nodes.find((n) => n.self);
  if (!nodeReachable) {
    out.push({
      kind: 'node-offline',
      text:
        place === 'desktop'
          ? 'Salita on this desktop cannot be reached: your messages wait here and go when it is back.'
          : `${self?.name ?? 'The desktop'} is offline: your messages wait on this phone and go when it is back.`,
    });
  }
  if (!dir || !selected) return out;
  const device = dir.devices.find((d) => d.device_id === selected);
  if (!device) return out;
  const node = nodeOfDevice(dir, selected);
  if (node && !node.self && !node.online) {
    out.push({
      kind: 'recipient-offline',
      text:
        device.route === 'cloud'
          ? `${node.name} is offline: your message will go through the cloud.`
          : `${node.name} is offline: your message will wait and go when it is back.`,
    });
  } else if (device.home === 'remote' && dir.cloud.status !== 'connected') {
    out.push({
      kind: 'cloud-away',
      text:
        dir.cloud.status === 'not_configured' || dir.cloud.status === 'logged_out'
          ? `${device.name} is at another home, and this desktop is not logged in to a cloud: a message to it cannot go.`
          : `${device.name} is at another home and the cloud cannot be reached right now: your message will wait and go when it is back.`,
    });
  }
  return out;
}

/** The one-line hint about the cloud under the heading: never a refusal, home devices need no cloud. */
export function cloudHint(dir: MessagingDirectory): string {
  const remote = dir.devices.some((d) => d.home === 'remote');
  if (dir.cloud.status === 'connected') return 'Devices of this home are reached directly; devices at other homes through the cloud.';
  if (remote) return 'Devices of this home are reached directly; devices at other homes wait until the cloud is reachable.';
  return 'Devices of this home are reached directly, with no cloud.';
}
