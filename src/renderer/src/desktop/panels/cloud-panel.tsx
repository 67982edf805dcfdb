// Placeholder while this panel is being rebuilt in preact.
export function CloudPanel() {
  return null;
}
