/**
 * Every read of this thread lands here, at offset 0 (one buffer, no allocation per read), with
 * either transport (workers/net/transport.ts). Its bytes are valid only until the read callback
 * returns: whoever keeps some copies them.
 */
export const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);
