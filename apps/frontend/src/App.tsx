import { useCallback, useEffect, useState } from 'react';
import { ApiError, type ItemInput, type Item, type ItemsClient } from './api/client';
import { ItemForm } from './components/ItemForm';
import { ItemList } from './components/ItemList';

type Load = { state: 'loading' } | { state: 'ready' } | { state: 'error'; message: string };

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function App({ client }: { client: ItemsClient }) {
  const [items, setItems] = useState<Item[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [loadingMore, setLoadingMore] = useState(false);
  const [deleting, setDeleting] = useState<ReadonlySet<string>>(new Set());
  const [actionError, setActionError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const ctrl = new AbortController();
    setLoad({ state: 'loading' });
    client.list(undefined, ctrl.signal).then(
      (page) => {
        setItems(page.items);
        setNext(page.next_cursor);
        setLoad({ state: 'ready' });
      },
      (err: unknown) => {
        if (err instanceof ApiError && err.canceled) return;
        setLoad({ state: 'error', message: messageOf(err) });
      },
    );
    return () => ctrl.abort();
  }, [client, attempt]);

  const loadMore = useCallback(async () => {
    if (!next) return;
    setLoadingMore(true);
    setActionError(null);
    try {
      const page = await client.list(next);
      setItems((cur) => [...cur, ...page.items.filter((it) => !cur.some((c) => c.id === it.id))]);
      setNext(page.next_cursor);
    } catch (err) {
      setActionError(messageOf(err));
    } finally {
      setLoadingMore(false);
    }
  }, [client, next]);

  const create = useCallback(
    async (input: ItemInput) => {
      setActionError(null);
      const item = await client.create(input); // the form shows its own errors
      setItems((cur) => [...cur, item]);
    },
    [client],
  );

  const remove = useCallback(
    async (id: string) => {
      setActionError(null);
      setDeleting((cur) => new Set(cur).add(id));
      try {
        await client.remove(id);
        setItems((cur) => cur.filter((it) => it.id !== id));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          setItems((cur) => cur.filter((it) => it.id !== id)); // already gone
        } else {
          setActionError(messageOf(err));
        }
      } finally {
        setDeleting((cur) => {
          const rest = new Set(cur);
          rest.delete(id);
          return rest;
        });
      }
    },
    [client],
  );

  return (
    <main className="app">
      <header className="app-header">
        <h1>Items</h1>
        <p className="subtitle">Add, list and delete items stored by the backend API.</p>
      </header>

      <section className="card" aria-labelledby="new-item-heading">
        <h2 id="new-item-heading">New item</h2>
        <ItemForm onCreate={create} />
      </section>

      <section className="card" aria-labelledby="items-heading" aria-busy={load.state === 'loading'}>
        <h2 id="items-heading">
          All items {load.state === 'ready' && <span className="count">{items.length}</span>}
        </h2>
        {actionError && (
          <p className="error" role="alert">
            {actionError}
          </p>
        )}
        {load.state === 'loading' && (
          <p className="muted" role="status">
            <span className="spinner" aria-hidden="true" /> Loading items…
          </p>
        )}
        {load.state === 'error' && (
          <div className="error" role="alert">
            <p>{load.message}</p>
            <button type="button" className="secondary" onClick={() => setAttempt((n) => n + 1)}>
              Retry
            </button>
          </div>
        )}
        {load.state === 'ready' && (
          <>
            <ItemList items={items} deleting={deleting} onDelete={remove} />
            {next && (
              <button type="button" className="secondary more" onClick={loadMore} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load more'}
              </button>
            )}
          </>
        )}
      </section>
    </main>
  );
}
