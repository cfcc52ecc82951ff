import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DnsConfig } from '../config/tcp-types.ts';

/**
 * Resolves server names: through the given nameservers (DnsConfig), else the system resolver
 * (getaddrinfo, which reads /etc/hosts and resolv.conf). Literal addresses resolve to themselves.
 */
export class NameResolver {
  readonly #resolver: Resolver | null;

  constructor(dns: DnsConfig | null) {
    if (dns === null || dns.nameservers.length === 0) {
      this.#resolver = null;
    } else {
      const timeout = Math.max(100, dns.retryMs);
      this.#resolver = new Resolver({ timeout, tries: Math.max(1, dns.retries + 1) });
      this.#resolver.setServers(
        dns.nameservers.map((n) =>
          n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`,
        ),
      );
    }
  }

  /** The first address of `host`; throws with the resolver's code (ENOTFOUND, ETIMEOUT…). */
  async resolve(host: string): Promise<string> {
    if (isIP(host) !== 0) return host;
    if (this.#resolver === null) return (await lookup(host)).address;
    try {
      const v4 = await this.#resolver.resolve4(host);
      if (v4.length > 0) return v4[0];
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENODATA' && code !== 'ENOTFOUND') throw err;
    }
    const v6 = await this.#resolver.resolve6(host);
    if (v6.length === 0)
      throw Object.assign(new Error(`no address for ${host}`), { code: 'ENODATA' });
    return v6[0];
  }
}
