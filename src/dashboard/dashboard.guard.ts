import { ForbiddenException, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import {
  DASHBOARD_CSRF_COOKIE,
  DASHBOARD_CSRF_HEADER,
  DASHBOARD_OPTIONS,
  type TaskQueueDashboardOptions,
} from './dashboard.options.js';

interface HttpRequest {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Reads one cookie from the Cookie header (no cookie parser needed). @internal */
export function readCookie(request: HttpRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  for (const part of (Array.isArray(header) ? header.join(';') : (header ?? '')).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // malformed: as if absent
      }
    }
  }
  return undefined;
}

function header(request: HttpRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Applies the dashboard's `canActivate` option, then, for every request that
 * may change something (anything but GET and HEAD): read-only mode, the
 * browser's Sec-Fetch-Site (same-origin only, when sent), and the CSRF token (the `x-taskqueue-csrf` header must
 * equal the `taskqueue_csrf` cookie the page set; a cross-site page can set
 * neither).
 * @internal
 */
@Injectable()
export class DashboardGuard implements CanActivate {
  constructor(@Inject(DASHBOARD_OPTIONS) private readonly options: TaskQueueDashboardOptions) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    if (this.options.canActivate && !(await this.options.canActivate(request))) return false;
    const method = (request.method ?? 'GET').toUpperCase();
    if (method === 'GET' || method === 'HEAD') return true;
    if (this.options.readOnly) throw new ForbiddenException('The dashboard is read-only.');
    const site = header(request, 'sec-fetch-site');
    if (site && site !== 'same-origin') throw new ForbiddenException('Cross-site request refused by the dashboard.');
    const cookie = Buffer.from(readCookie(request, DASHBOARD_CSRF_COOKIE) ?? '');
    const token = Buffer.from(header(request, DASHBOARD_CSRF_HEADER) ?? '');
    if (cookie.length < 16 || cookie.length !== token.length || !timingSafeEqual(cookie, token))
      throw new ForbiddenException('Missing or wrong CSRF token: reload the dashboard.');
    return true;
  }
}
