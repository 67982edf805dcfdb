// Placeholder while this panel is being rebuilt in preact.
export function MessagesPanel() {
  return null;
}
