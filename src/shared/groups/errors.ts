// Why a group step was refused. Every refusal leaves the group's state as it was: the caller keeps the state it
// had and may try the next message.

export type GroupErrorCode =
  /** This (sender, epoch, iteration) was already opened, or its key was dropped: a replay or a duplicate. */
  | 'group_duplicate'
  /** The message asks to skip more than MAX_GROUP_SKIP keys of a chain: refused (a DoS guard). */
  | 'group_too_many_skipped'
  /** The message does not parse, its signature or tag does not verify, or it is not for this group. */
  | 'group_bad_message'
  /** No sender key of that device for that epoch: not a member then, or its distribution has not come yet. */
  | 'group_unknown_sender'
  /** A membership change that is not signed by a member, not the next epoch, or not a valid member list. */
  | 'group_bad_change'
  /** More than MAX_GROUP_DEVICES devices, or none. */
  | 'group_too_large'
  /** This device is not a member (it was removed, or never added). */
  | 'group_not_member'
  /** A stored state that does not parse. */
  | 'group_bad_state'
  | 'group_invalid_argument';

export class GroupError extends Error {
  override readonly name = 'GroupError';
  constructor(
    readonly code: GroupErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isGroupError(err: unknown): err is GroupError {
  return err instanceof GroupError;
}
