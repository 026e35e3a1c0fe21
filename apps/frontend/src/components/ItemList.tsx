import type { Item } from '../api/client';

interface Props {
  items: Item[];
  deleting: ReadonlySet<string>;
  onDelete: (id: string) => void;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function ItemList({ items, deleting, onDelete }: Props) {
  if (items.length === 0) {
    return <p className="muted empty">No items yet. Add the first one above.</p>;
  }
  return (
    <ul className="items" aria-label="Items">
      {items.map((item) => {
        const busy = deleting.has(item.id);
        return (
          <li key={item.id} className={busy ? 'item busy' : 'item'}>
            <div className="item-text">
              <strong>{item.name}</strong>
              {item.description && <span className="muted">{item.description}</span>}
              <time dateTime={item.created_at} className="muted small">
                Added {dateFormat.format(new Date(item.created_at))}
              </time>
            </div>
            <button
              type="button"
              className="danger"
              aria-label={`Delete ${item.name}`}
              disabled={busy}
              onClick={() => onDelete(item.id)}
            >
              {busy ? 'Deleting…' : 'Delete'}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
