// @vitest-environment node
// The client is driven against a real HTTP server speaking the API's wire
// format, and the test asserts the method, path, query and body it sent.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, apiBase, createItemsClient, PAGE_SIZE } from './client';

interface Seen {
  method: string;
  url: string;
  contentType?: string;
  body: string;
}

type Reply = { status: number; body?: unknown; raw?: string; delayMs?: number };

let server: Server;
let base: string;
let seen: Seen[];
let reply: Reply;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body: await readBody(req) });
    const r = reply;
    const send = () => {
      if (r.status === 204) {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(r.status, { 'Content-Type': 'application/json' });
      res.end(r.raw ?? JSON.stringify(r.body));
    };
    if (r.delayMs) setTimeout(send, r.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen = [];
  reply = { status: 200, body: {} };
});

const item = { id: 'a1', name: 'deploy', description: '', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };

describe('apiBase', () => {
  it.each([
    [undefined, '/api'],
    ['', '/api'],
    ['  ', '/api'],
    ['/api/', '/api'],
    ['https://api.dev.example.com/api//', 'https://api.dev.example.com/api'],
  ])('turns %j into %j', (configured, want) => {
    expect(apiBase(configured)).toBe(want);
  });
});

describe('createItemsClient', () => {
  it('lists the first page at ${base}/v1/items with a page size', async () => {
    reply = { status: 200, body: { items: [item], next_cursor: 'c2' } };
    const page = await createItemsClient(base).list();
    expect(page).toEqual({ items: [item], next_cursor: 'c2' });
    expect(seen).toEqual([{ method: 'GET', url: `/api/v1/items?limit=${PAGE_SIZE}`, contentType: undefined, body: '' }]);
  });

  it('passes the cursor of the next page', async () => {
    reply = { status: 200, body: { items: [] } };
    const page = await createItemsClient(base).list('c 2');
    expect(page).toEqual({ items: [], next_cursor: undefined });
    expect(seen[0].url).toBe(`/api/v1/items?limit=${PAGE_SIZE}&cursor=c+2`);
  });

  it('creates with a JSON body', async () => {
    reply = { status: 201, body: item };
    const created = await createItemsClient(base).create({ name: 'deploy', description: 'x' });
    expect(created).toEqual(item);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/items', body: '{"name":"deploy","description":"x"}' });
    expect(seen[0].contentType).toMatch(/^application\/json/);
  });

  it('deletes by escaped id', async () => {
    reply = { status: 204 };
    await createItemsClient(base).remove('a/1');
    expect(seen[0]).toMatchObject({ method: 'DELETE', url: '/api/v1/items/a%2F1' });
  });

  it("turns the API's JSON error into an ApiError with status and fields", async () => {
    reply = { status: 400, body: { error: 'invalid item: name is required', fields: { name: 'is required' } } };
    const err = await createItemsClient(base).create({ name: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      message: 'Could not add the item: invalid item: name is required.',
      status: 400,
      fields: { name: 'is required' },
    });
  });

  it('says HTTP status when the error body is not the API format', async () => {
    reply = { status: 502, raw: '<html>Bad Gateway</html>' };
    await expect(createItemsClient(base).list()).rejects.toMatchObject({ message: 'Could not load items: HTTP 502.', status: 502 });
  });

  it('says the API cannot be reached when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(createItemsClient(`http://127.0.0.1:${port}/api`).remove('x')).rejects.toMatchObject({
      message: 'Could not delete the item: the API cannot be reached.',
    });
  });

  it('marks aborted requests as canceled', async () => {
    reply = { status: 200, body: { items: [] }, delayMs: 2000 };
    const ctrl = new AbortController();
    const pending = createItemsClient(base).list(undefined, ctrl.signal);
    ctrl.abort();
    await expect(pending).rejects.toMatchObject({ canceled: true });
  });
});
