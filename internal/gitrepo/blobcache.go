package gitrepo

import (
	"container/list"
	"sync"
)

// blobCacheBytes bounds what a mirror keeps of the blobs its trees read. Objects never change, so a
// blob read for one commit serves every later commit that has it: a pull request's next commit
// changes a few files, and its tree reads only those.
const blobCacheBytes = 32 << 20

// blobCache keeps recently read blobs by object ID, the least recently used dropped first, within a
// byte budget. Safe for concurrent use; its zero value is not usable: see newBlobCache.
type blobCache struct {
	mu    sync.Mutex
	max   int
	used  int
	order *list.List               // front: most recently used; values are *cachedBlob
	byID  map[string]*list.Element // object ID -> element
}

type cachedBlob struct {
	id   string
	data []byte
}

func newBlobCache(max int) *blobCache {
	return &blobCache{max: max, order: list.New(), byID: map[string]*list.Element{}}
}

// get returns the blob's bytes (shared: not to be changed) and whether it was there.
func (c *blobCache) get(id string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cachedBlob).data, true
}

// put keeps data for id; a blob over a quarter of the budget is not kept.
func (c *blobCache) put(id string, data []byte) {
	if len(data) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.byID[id] = c.order.PushFront(&cachedBlob{id: id, data: data})
	c.used += len(data)
	for c.used > c.max {
		last := c.order.Back()
		b := last.Value.(*cachedBlob)
		c.order.Remove(last)
		delete(c.byID, b.id)
		c.used -= len(b.data)
	}
}
