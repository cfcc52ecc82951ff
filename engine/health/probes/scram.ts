import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: no channel
 * binding (gs2 header `n,,`), and the user name left empty in the messages because the server
 * takes it from the StartupMessage. The password is used as given: SASLprep only changes
 * non-ASCII passwords, and PostgreSQL itself falls back to the raw bytes when SASLprep fails.
 */
export class ScramClient {
  private readonly password: string;
  private readonly nonce: string;
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | null = null;

  constructor(password: string, user = '', nonce = randomBytes(18).toString('base64')) {
    this.password = password;
    this.nonce = nonce;
    this.clientFirstBare = `n=${user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${nonce}`;
  }

  /** client-first-message: what SASLInitialResponse carries. */
  first(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** client-final-message for the server-first-message; throws an Error saying what is wrong with it. */
  final(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(this.nonce) || nonce.length === this.nonce.length)
      throw new Error('SCRAM server nonce does not extend ours');
    if (!salt || !Number.isSafeInteger(iterations) || iterations < 1)
      throw new Error(`SCRAM server-first-message is malformed: ${JSON.stringify(serverFirst)}`);
    const salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ signature[i];
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Whether server-final-message proves the server knew the password too. */
  verify(serverFinal: string): boolean {
    const v = parseAttributes(serverFinal).get('v');
    if (!v || !this.expectedServerSignature) return false;
    const got = Buffer.from(v, 'base64');
    return (
      got.length === this.expectedServerSignature.length &&
      timingSafeEqual(got, this.expectedServerSignature)
    );
  }
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length >= 2 && part[1] === '=') out.set(part[0], part.slice(2));
  }
  return out;
}
