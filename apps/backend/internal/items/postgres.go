package items

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a store in the PostgreSQL table "items" that internal/migrate
// creates. Every method is one statement, so PostgreSQL's row locks give it
// the memory store's guarantees under concurrency: a replace or delete of a
// row that another request deleted first finds nothing (ErrNotFound) and
// never brings it back, and a replace overwrites whole items, never half of
// one. Items are paged by seq, an identity column (keyset paging): rows
// inserted or deleted between pages neither repeat nor skip the others.
type Postgres struct {
	pool *pgxpool.Pool
}

// NewPostgres returns a store that uses pool. The caller closes the pool.
func NewPostgres(pool *pgxpool.Pool) *Postgres {
	return &Postgres{pool: pool}
}

// The statements name their columns so that a migration that adds one
// (expand) does not break the running version.
const (
	itemColumns = `id, name, description, created_at, updated_at`

	insertItem = `INSERT INTO items (id, name, description, created_at, updated_at)
VALUES ($1, $2, $3, now(), now())
RETURNING ` + itemColumns
	selectItem = `SELECT ` + itemColumns + ` FROM items WHERE id = $1`
	updateItem = `UPDATE items SET name = $2, description = $3, updated_at = now()
WHERE id = $1
RETURNING ` + itemColumns
	deleteItem = `DELETE FROM items WHERE id = $1`
	listItems  = `SELECT seq, ` + itemColumns + ` FROM items WHERE seq > $1 ORDER BY seq LIMIT $2`
)

// Create stores a new item made from a validated input.
func (p *Postgres) Create(ctx context.Context, in Input) (Item, error) {
	id, err := newID()
	if err != nil {
		return Item{}, fmt.Errorf("create item: %w", err)
	}
	it, err := scanItem(p.pool.QueryRow(ctx, insertItem, id, in.Name, in.Description))
	if err != nil {
		return Item{}, fmt.Errorf("create item: %w", err)
	}
	return it, nil
}

// Get returns one item.
func (p *Postgres) Get(ctx context.Context, id string) (Item, error) {
	if !wellFormedID(id) {
		return Item{}, ErrNotFound
	}
	it, err := scanItem(p.pool.QueryRow(ctx, selectItem, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("get item %s: %w", id, err)
	}
	return it, nil
}

// Update replaces the client-settable fields of an item.
func (p *Postgres) Update(ctx context.Context, id string, in Input) (Item, error) {
	if !wellFormedID(id) {
		return Item{}, ErrNotFound
	}
	it, err := scanItem(p.pool.QueryRow(ctx, updateItem, id, in.Name, in.Description))
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("update item %s: %w", id, err)
	}
	return it, nil
}

// Delete removes an item.
func (p *Postgres) Delete(ctx context.Context, id string) error {
	if !wellFormedID(id) {
		return ErrNotFound
	}
	tag, err := p.pool.Exec(ctx, deleteItem, id)
	if err != nil {
		return fmt.Errorf("delete item %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// List returns up to opts.Limit items after opts.Cursor, in creation order.
func (p *Postgres) List(ctx context.Context, opts ListOptions) (Page, error) {
	if opts.Limit < 1 {
		return Page{}, fmt.Errorf("list items: limit %d is below 1", opts.Limit)
	}
	var after int64
	if opts.Cursor != "" {
		var err error
		if after, err = decodeCursor(opts.Cursor); err != nil {
			return Page{}, err
		}
	}
	// One row more than asked tells whether there is a next page.
	rows, err := p.pool.Query(ctx, listItems, after, opts.Limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list items: %w", err)
	}
	page := Page{Items: make([]Item, 0, min(opts.Limit, 32))}
	var lastSeq int64
	more := false
	for rows.Next() {
		if len(page.Items) == opts.Limit {
			more = true
			break
		}
		var (
			seq int64
			it  Item
		)
		if err := rows.Scan(&seq, &it.ID, &it.Name, &it.Description, &it.CreatedAt, &it.UpdatedAt); err != nil {
			rows.Close()
			return Page{}, fmt.Errorf("list items: %w", err)
		}
		page.Items = append(page.Items, normalizeTimes(it))
		lastSeq = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list items: %w", err)
	}
	if more {
		page.Next = encodeCursor(lastSeq)
	}
	return page, nil
}

// Ping checks that the database answers, for readiness checks.
func (p *Postgres) Ping(ctx context.Context) error {
	return p.pool.Ping(ctx)
}

func scanItem(row pgx.Row) (Item, error) {
	var it Item
	if err := row.Scan(&it.ID, &it.Name, &it.Description, &it.CreatedAt, &it.UpdatedAt); err != nil {
		return Item{}, err
	}
	return normalizeTimes(it), nil
}

// normalizeTimes answers in UTC like the memory store, whatever the
// process's time zone.
func normalizeTimes(it Item) Item {
	it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
	return it
}
