import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { ApiError, type Item, type ItemInput, type ItemPage, type ItemsClient } from './api/client';

function makeItem(id: string, name: string, description = ''): Item {
  return { id, name, description, created_at: '2026-01-01T10:00:00Z', updated_at: '2026-01-01T10:00:00Z' };
}

/** An in-memory ItemsClient; `pages` lets a test hold a call open or fail it. */
class FakeClient implements ItemsClient {
  items: Item[] = [];
  calls: string[] = [];
  failList: ApiError | null = null;
  failCreate: ApiError | null = null;
  failRemove: ApiError | null = null;
  pageSize = 50;
  gate: Promise<void> | null = null;
  private seq = 0;

  async list(cursor?: string): Promise<ItemPage> {
    this.calls.push(`list ${cursor ?? ''}`.trim());
    if (this.gate) await this.gate;
    if (this.failList) throw this.failList;
    const start = cursor ? Number(cursor) : 0;
    const items = this.items.slice(start, start + this.pageSize);
    const next = start + this.pageSize < this.items.length ? String(start + this.pageSize) : undefined;
    return { items, next_cursor: next };
  }

  async create(input: ItemInput): Promise<Item> {
    this.calls.push(`create ${input.name}`);
    if (this.gate) await this.gate;
    if (this.failCreate) throw this.failCreate;
    const it = makeItem(`id${++this.seq}`, input.name, input.description);
    this.items.push(it);
    return it;
  }

  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    if (this.gate) await this.gate;
    if (this.failRemove) throw this.failRemove;
    this.items = this.items.filter((it) => it.id !== id);
  }
}

function deferred() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function listedNames(): string[] {
  return within(screen.getByRole('list', { name: 'Items' }))
    .getAllByRole('listitem')
    .map((li) => li.querySelector('strong')?.textContent ?? '');
}

describe('App', () => {
  it('shows a loading state, then the items', async () => {
    const client = new FakeClient();
    client.items = [makeItem('1', 'first', 'with a description'), makeItem('2', 'second')];
    const gate = deferred();
    client.gate = gate.promise;
    render(<App client={client} />);

    expect(screen.getByRole('status').textContent).toContain('Loading items');
    await act(async () => gate.open());
    await waitFor(() => expect(screen.queryByRole('status')).toBeNull());
    expect(listedNames()).toEqual(['first', 'second']);
    expect(screen.getByText('with a description')).toBeTruthy();
  });

  it('says so when there are no items', async () => {
    render(<App client={new FakeClient()} />);
    expect(await screen.findByText(/No items yet/)).toBeTruthy();
  });

  it('shows a load error a person can read, and retries', async () => {
    const client = new FakeClient();
    client.failList = new ApiError('Could not load items: the API cannot be reached.');
    render(<App client={client} />);

    expect((await screen.findByRole('alert')).textContent).toContain('Could not load items: the API cannot be reached.');
    client.failList = null;
    client.items = [makeItem('1', 'back again')];
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(listedNames()).toEqual(['back again']));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('creates an item and lists it', async () => {
    const client = new FakeClient();
    render(<App client={client} />);
    await screen.findByText(/No items yet/);

    const add = screen.getByRole('button', { name: 'Add item' });
    expect((add as HTMLButtonElement).disabled).toBe(true); // a blank name cannot be submitted
    fireEvent.change(screen.getByRole('textbox', { name: 'Name' }), { target: { value: '  Rotate keys ' } });
    fireEvent.change(screen.getByRole('textbox', { name: 'Description' }), { target: { value: 'quarterly' } });
    expect((add as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(add);

    await waitFor(() => expect(listedNames()).toEqual(['Rotate keys']));
    expect(client.calls).toContain('create Rotate keys');
    expect((screen.getByRole('textbox', { name: 'Name' }) as HTMLInputElement).value).toBe('');
  });

  it('shows validation errors from the API next to the field', async () => {
    const client = new FakeClient();
    client.failCreate = new ApiError('Could not add the item: invalid item: name is required.', {
      status: 400,
      fields: { name: 'is required' },
    });
    render(<App client={client} />);
    await screen.findByText(/No items yet/);

    fireEvent.change(screen.getByRole('textbox', { name: /Name/ }), { target: { value: 'x' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add item' }));

    expect((await screen.findByRole('alert')).textContent).toContain('invalid item: name is required');
    expect(screen.getByText('Name is required')).toBeTruthy();
    expect(screen.getByRole('textbox', { name: /Name/ }).getAttribute('aria-invalid')).toBe('true');
    expect((screen.getByRole('textbox', { name: /Name/ }) as HTMLInputElement).value).toBe('x'); // kept to fix
  });

  it('deletes an item', async () => {
    const client = new FakeClient();
    client.items = [makeItem('1', 'keep'), makeItem('2', 'drop')];
    render(<App client={client} />);
    await waitFor(() => expect(listedNames()).toEqual(['keep', 'drop']));

    fireEvent.click(screen.getByRole('button', { name: 'Delete drop' }));
    await waitFor(() => expect(listedNames()).toEqual(['keep']));
    expect(client.calls).toContain('remove 2');
  });

  it('keeps the item and shows why when a delete fails', async () => {
    const client = new FakeClient();
    client.items = [makeItem('1', 'stuck')];
    client.failRemove = new ApiError('Could not delete the item: HTTP 500.', { status: 500 });
    render(<App client={client} />);
    await waitFor(() => expect(listedNames()).toEqual(['stuck']));

    fireEvent.click(screen.getByRole('button', { name: 'Delete stuck' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Could not delete the item: HTTP 500.');
    expect(listedNames()).toEqual(['stuck']);
    expect((screen.getByRole('button', { name: 'Delete stuck' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('loads further pages on request', async () => {
    const client = new FakeClient();
    client.pageSize = 2;
    client.items = ['a', 'b', 'c'].map((n) => makeItem(n, n));
    render(<App client={client} />);
    await waitFor(() => expect(listedNames()).toEqual(['a', 'b']));

    fireEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(listedNames()).toEqual(['a', 'b', 'c']));
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
    expect(client.calls).toEqual(['list', 'list 2']);
  });
});
