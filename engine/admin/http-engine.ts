/** An admin (or, later, ambassador) HTTP request as legate's handlers see it. */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export type HttpHandler = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/**
 * The small interface both HTTP engines implement: uWebSockets.js where it loads, node:http
 * elsewhere. The admin server uses it; the HTTP ambassadors will too.
 */
export interface HttpEngine {
  readonly name: 'uws' | 'node';
  /** Starts serving `handler` on host:port (port 0: any free port); resolves with the bound port. */
  listen(host: string, port: number, handler: HttpHandler): Promise<number>;
  close(): Promise<void>;
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK',
  400: '400 Bad Request',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};
