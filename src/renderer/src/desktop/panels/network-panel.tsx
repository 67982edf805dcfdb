// Placeholder while this panel is being rebuilt in preact.
export function NetworkPanel(_: { onClose: () => void }) {
  return null;
}
