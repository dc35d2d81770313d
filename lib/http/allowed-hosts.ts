// A host name or IPv4 address, or a bracketed IPv6 address, with an optional port (RFC 9110 §7.2).
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const MAX_HOST_LENGTH = 255;

/**
 * Whether a request's `Host` may take part in a page key (Django's `ALLOWED_HOSTS` rules): always
 * a well-formed host; with an allow-list, one of its entries, where `.example.com` also matches
 * every subdomain and `*` matches any host. Requests from other hosts are answered, never cached,
 * so a forged `Host` cannot fill the cache or plant a page.
 */
export function hostIsAllowed(host: string | undefined, allowedHosts: readonly string[] | undefined): boolean {
  if (host === undefined || host.length > MAX_HOST_LENGTH || !HOST.test(host)) return false;
  if (allowedHosts === undefined) return true;
  const name = withoutPort(host).toLowerCase().replace(/\.$/, '');
  return allowedHosts.some((pattern) => {
    const allowed = pattern.toLowerCase();
    if (allowed === '*') return true;
    if (allowed.startsWith('.')) return name === allowed.slice(1) || name.endsWith(allowed);
    return name === allowed;
  });
}

function withoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
