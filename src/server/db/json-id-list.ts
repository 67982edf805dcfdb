// A list of ids kept as a JSON text column (the older ids a re-paired device replaced, node and cloud alike).
// A row that cannot be read gives no list rather than failing the whole read: the device is still served.

export function parseIdList(text: string | null | undefined): string[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
