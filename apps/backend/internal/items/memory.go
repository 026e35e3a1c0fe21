package items

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// DefaultMaxItems bounds the in-memory store so a client cannot grow the
// process without limit.
const DefaultMaxItems = 10000

// Memory is a Store kept in process memory, safe for concurrent use. Items
// are listed in creation order; cursors are opaque positions in that order,
// so deleting items between pages neither repeats nor skips the others.
type Memory struct {
	mu       sync.RWMutex
	byID     map[string]*entry
	order    []*entry // ascending seq
	seq      int64
	maxItems int
	now      func() time.Time
}

type entry struct {
	seq  int64
	item Item
}

// MemoryOption configures a Memory store.
type MemoryOption func(*Memory)

// WithMaxItems sets how many items the store holds at most.
func WithMaxItems(n int) MemoryOption { return func(m *Memory) { m.maxItems = n } }

// WithClock sets the time source, for tests.
func WithClock(now func() time.Time) MemoryOption { return func(m *Memory) { m.now = now } }

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{byID: map[string]*entry{}, maxItems: DefaultMaxItems, now: time.Now}
	for _, opt := range opts {
		opt(m)
	}
	return m
}

// Create stores a new item made from a validated input.
func (m *Memory) Create(ctx context.Context, in Input) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	id, err := newID()
	if err != nil {
		return Item{}, fmt.Errorf("create item: %w", err)
	}
	now := m.now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byID) >= m.maxItems {
		return Item{}, ErrStoreFull
	}
	m.seq++
	e := &entry{seq: m.seq, item: Item{ID: id, Name: in.Name, Description: in.Description, CreatedAt: now, UpdatedAt: now}}
	m.byID[id] = e
	m.order = append(m.order, e)
	return e.item, nil
}

// Get returns one item.
func (m *Memory) Get(ctx context.Context, id string) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.byID[id]
	if !ok {
		return Item{}, ErrNotFound
	}
	return e.item, nil
}

// Update replaces the client-settable fields of an item.
func (m *Memory) Update(ctx context.Context, id string, in Input) (Item, error) {
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	now := m.now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[id]
	if !ok {
		return Item{}, ErrNotFound
	}
	e.item.Name, e.item.Description, e.item.UpdatedAt = in.Name, in.Description, now
	return e.item, nil
}

// Delete removes an item.
func (m *Memory) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byID[id]
	if !ok {
		return ErrNotFound
	}
	delete(m.byID, id)
	i := m.indexAfter(e.seq - 1)
	m.order = append(m.order[:i], m.order[i+1:]...)
	return nil
}

// List returns up to opts.Limit items after opts.Cursor, in creation order.
func (m *Memory) List(ctx context.Context, opts ListOptions) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
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
	m.mu.RLock()
	defer m.mu.RUnlock()
	rest := m.order[m.indexAfter(after):]
	page := Page{Items: make([]Item, 0, min(opts.Limit, len(rest)))}
	for _, e := range rest[:min(opts.Limit, len(rest))] {
		page.Items = append(page.Items, e.item)
	}
	if len(rest) > opts.Limit {
		page.Next = encodeCursor(rest[opts.Limit-1].seq)
	}
	return page, nil
}

// indexAfter returns the index of the first entry whose seq is above seq.
// The caller holds the lock.
func (m *Memory) indexAfter(seq int64) int {
	return sort.Search(len(m.order), func(i int) bool { return m.order[i].seq > seq })
}
