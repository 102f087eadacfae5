/**
 * Authentication, as Milvus does it when `authorizationEnabled` is on:
 *   REST: `Authorization: Bearer <token>` where the token is either `user:password` or an API
 *         token; HTTP Basic is accepted too.
 *   gRPC: metadata `authorization: base64(<token> or <user:password>)`.
 * With no credentials configured, every request is accepted and headers are ignored (Milvus's
 * default). Comparisons are constant-time.
 */
import { timingSafeEqual, createHash } from 'node:crypto';

export interface AuthConfig {
  /** An API token clients send as the whole bearer value. */
  token?: string;
  /** A user and password clients send as `user:password`. */
  user?: string;
  password?: string;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class Authenticator {
  private readonly accepted: string[];
  constructor(config: AuthConfig) {
    this.accepted = [];
    if (config.token) this.accepted.push(config.token);
    if (config.user !== undefined && config.password !== undefined) this.accepted.push(`${config.user}:${config.password}`);
  }

  /** True when auth is on (some credential is configured). */
  get enabled(): boolean {
    return this.accepted.length > 0;
  }

  /** Does this credential (a token or `user:password`) match? */
  check(credential: string | undefined): boolean {
    if (!this.enabled) return true;
    if (credential === undefined || credential === '') return false;
    let ok = false;
    for (const a of this.accepted) ok = same(a, credential) || ok; // no early exit: constant time
    return ok;
  }

  /** REST: the `Authorization` header value (Bearer or Basic). */
  checkHttpHeader(header: string | undefined): boolean {
    if (!this.enabled) return true;
    if (!header) return false;
    const m = /^(Bearer|Basic)\s+(.+)$/i.exec(header.trim());
    if (!m) return false;
    const cred = m[1]!.toLowerCase() === 'basic' ? Buffer.from(m[2]!, 'base64').toString('utf8') : m[2]!;
    return this.check(cred);
  }

  /** gRPC: the `authorization` metadata value, base64 of the credential. */
  checkGrpcMetadata(value: string | Buffer | undefined): boolean {
    if (!this.enabled) return true;
    if (value === undefined) return false;
    const text = typeof value === 'string' ? value : value.toString('utf8');
    return this.check(Buffer.from(text, 'base64').toString('utf8'));
  }
}

/** Observer of finished requests (metrics and logs). */
export type RequestObserver = (e: { protocol: 'rest' | 'grpc'; method: string; code: number; seconds: number }) => void;
