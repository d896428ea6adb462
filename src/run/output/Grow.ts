/** Reused buffers grow by doubling, so a stream that prints little keeps little. */
export const withRoom = (buffer: Buffer<ArrayBuffer>, bytes: number, keep: number): Buffer<ArrayBuffer> => {
  if (buffer.length >= bytes) return buffer
  const grown = Buffer.allocUnsafe(Math.max(bytes, buffer.length * 2))
  buffer.copy(grown, 0, 0, keep)
  return grown
}
