// The items API client: the only module that knows the API's paths and
// error format. Components depend on the ItemsClient interface, so tests can
// hand them a fake.
import axios, { type AxiosInstance } from 'axios';

export interface Item {
  id: string;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

export interface ItemInput {
  name: string;
  description?: string;
}

export interface ItemPage {
  items: Item[];
  next_cursor?: string;
}

export interface ItemsClient {
  list(cursor?: string, signal?: AbortSignal): Promise<ItemPage>;
  create(input: ItemInput): Promise<Item>;
  remove(id: string): Promise<void>;
}

/** Page size asked of the API (its maximum is 100). */
export const PAGE_SIZE = 50;

/** An API failure with a message fit to show a person. */
export class ApiError extends Error {
  readonly status?: number;
  readonly fields?: Record<string, string>;
  readonly canceled: boolean;

  constructor(message: string, opts: { status?: number; fields?: Record<string, string>; canceled?: boolean } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = opts.status;
    this.fields = opts.fields;
    this.canceled = opts.canceled ?? false;
  }
}

/** The API base URL without a trailing slash; "/api" unless VITE_API_URL is set. */
export function apiBase(configured: string | undefined = import.meta.env.VITE_API_URL): string {
  const base = (configured ?? '').trim().replace(/\/+$/, '');
  return base === '' ? '/api' : base;
}

export function createItemsClient(base: string = apiBase(), http?: AxiosInstance): ItemsClient {
  const api =
    http ??
    axios.create({
      baseURL: `${base}/v1`,
      timeout: 10_000,
      headers: { Accept: 'application/json' },
    });

  return {
    async list(cursor, signal) {
      try {
        const params: Record<string, string | number> = { limit: PAGE_SIZE };
        if (cursor) params.cursor = cursor;
        const res = await api.get<ItemPage>('/items', { params, signal });
        return { items: res.data.items ?? [], next_cursor: res.data.next_cursor };
      } catch (err) {
        throw toApiError(err, 'load items');
      }
    },
    async create(input) {
      try {
        const res = await api.post<Item>('/items', input);
        return res.data;
      } catch (err) {
        throw toApiError(err, 'add the item');
      }
    },
    async remove(id) {
      try {
        await api.delete(`/items/${encodeURIComponent(id)}`);
      } catch (err) {
        throw toApiError(err, 'delete the item');
      }
    },
  };
}

/** Turns an Axios failure into an ApiError saying what could not be done and why. */
export function toApiError(err: unknown, doing: string): ApiError {
  if (axios.isCancel(err)) {
    return new ApiError(`Stopped trying to ${doing}.`, { canceled: true });
  }
  if (axios.isAxiosError(err)) {
    const status = err.response?.status;
    const data: unknown = err.response?.data;
    if (status !== undefined) {
      const body = typeof data === 'object' && data !== null ? (data as { error?: unknown; fields?: unknown }) : {};
      const reason = typeof body.error === 'string' && body.error !== '' ? body.error : `HTTP ${status}`;
      const fields =
        typeof body.fields === 'object' && body.fields !== null ? (body.fields as Record<string, string>) : undefined;
      return new ApiError(`Could not ${doing}: ${reason}.`, { status, fields });
    }
    if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') {
      return new ApiError(`Could not ${doing}: the API did not answer in time.`);
    }
    return new ApiError(`Could not ${doing}: the API cannot be reached.`);
  }
  return new ApiError(`Could not ${doing}: ${err instanceof Error ? err.message : String(err)}.`);
}
