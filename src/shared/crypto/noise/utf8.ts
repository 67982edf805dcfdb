// TextEncoder exists in Node and browsers; kept here so the Noise module has no other dependency.
const encoder = new TextEncoder();
export const utf8Bytes = (s: string): Uint8Array => encoder.encode(s);
