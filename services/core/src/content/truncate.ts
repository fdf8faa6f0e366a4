const encoder = new TextEncoder();

/**
 * The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`.
 * `encodeInto` writes whole characters only, so the cut never splits a
 * multi-byte sequence or a surrogate pair.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  // Every UTF-16 code unit takes at most 3 UTF-8 bytes: short texts need no encoding.
  if (text.length * 3 <= maxBytes) return text;
  const { read } = encoder.encodeInto(text, new Uint8Array(Math.max(0, maxBytes)));
  return read === text.length ? text : text.slice(0, read);
}
