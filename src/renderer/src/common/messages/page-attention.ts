// Whether the person is looking at this page. Reading needs only a visible page (a window behind another one
// on a big screen is still read); a notification is worth it as soon as the page is hidden or not focused.
export function isPageAttended(): boolean {
  return typeof document === 'undefined' || document.visibilityState === 'visible';
}

export function isPageInFront(): boolean {
  return isPageAttended() && (typeof document.hasFocus !== 'function' || document.hasFocus());
}
