import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { ItemList } from './ItemList';

const items = [
  { id: '1', name: 'alpha', description: 'first one', created_at: '2026-03-04T05:06:00Z', updated_at: '2026-03-04T05:06:00Z' },
  { id: '2', name: 'beta', description: '', created_at: '2026-03-04T05:07:00Z', updated_at: '2026-03-04T05:07:00Z' },
];

describe('ItemList', () => {
  it('lists names, descriptions and creation times', () => {
    render(<ItemList items={items} deleting={new Set()} onDelete={() => {}} />);
    const rows = within(screen.getByRole('list', { name: 'Items' })).getAllByRole('listitem');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('alpha');
    expect(rows[0].textContent).toContain('first one');
    expect(rows[0].querySelector('time')?.getAttribute('datetime')).toBe('2026-03-04T05:06:00Z');
  });

  it('calls onDelete with the id', () => {
    const onDelete = vi.fn();
    render(<ItemList items={items} deleting={new Set()} onDelete={onDelete} />);
    fireEvent.click(screen.getByRole('button', { name: 'Delete beta' }));
    expect(onDelete).toHaveBeenCalledWith('2');
  });

  it('disables the button of an item being deleted', () => {
    render(<ItemList items={items} deleting={new Set(['1'])} onDelete={() => {}} />);
    const busy = screen.getByRole('button', { name: 'Delete alpha' }) as HTMLButtonElement;
    expect(busy.disabled).toBe(true);
    expect(busy.textContent).toBe('Deleting…');
    expect((screen.getByRole('button', { name: 'Delete beta' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('shows an empty state', () => {
    render(<ItemList items={[]} deleting={new Set()} onDelete={() => {}} />);
    expect(screen.getByText(/No items yet/)).toBeTruthy();
    expect(screen.queryByRole('list')).toBeNull();
  });
});
