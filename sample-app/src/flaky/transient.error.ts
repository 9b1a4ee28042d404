/** A failure worth retrying (a timeout, a 503 from a partner API, ...). */
export class TransientError extends Error {
  // The stored error's `type` is the error's name: set it, or it reads "Error".
  override name = 'TransientError';
}
